"""Exception attributes: the message and the stack trace are cut only once scrubbed."""

from __future__ import annotations

from daloy_edge.observability import Redactor
from daloy_edge.observability._record import MAX_FIELD, exception_attributes

PASSWORD = "Sup3rS3cretPassw0rdValue"


def test_exception_message_cut_inside_a_credential_keeps_none_of_it() -> None:
    prefix = "x " * ((MAX_FIELD - len("https://admin:") - 12) // 2)
    error = RuntimeError(f"{prefix}https://admin:{PASSWORD}@db.internal")
    attributes = exception_attributes(error, Redactor(), with_trace=False)
    assert "Sup3r" not in str(attributes["exception.message"])


def test_stack_trace_cut_never_begins_with_the_rest_of_a_credential() -> None:
    # The trace keeps its last 16 KiB (the message ends it, then a newline); that cut
    # falls inside the password, just before its last seven characters.
    tail = "@db.internal " + "y" * (16_384 - len("rdValue@db.internal ") - 1)
    error = RuntimeError(f"https://admin:{PASSWORD}{tail}")
    attributes = exception_attributes(error, Redactor(), with_trace=True)
    trace = str(attributes["exception.stacktrace"])
    assert trace.startswith("…")
    assert "rdValue" not in trace


class InvalidToken(Exception):
    """Named as the JOSE layer's error is: its name reads as a secret-shaped key."""


def _trace(error: BaseException) -> str:
    return str(exception_attributes(error, Redactor(), with_trace=True)["exception.stacktrace"])


def test_trace_keeps_the_message_after_a_type_name_that_reads_as_a_key() -> None:
    assert "InvalidToken: alg not allowed\n" in _trace(InvalidToken("alg not allowed"))
    assert "KeyError: 'user_id'\n" in _trace(KeyError("user_id"))


def test_trace_keeps_the_type_names_of_a_cause_and_of_exception_group_members() -> None:
    try:
        try:
            raise KeyError("user_id")
        except KeyError as exc:
            raise ExceptionGroup("lookups", [InvalidToken("expired")]) from exc
    except ExceptionGroup as group:
        trace = _trace(group)
    assert "KeyError: 'user_id'\n" in trace
    assert "InvalidToken: expired\n" in trace


def test_trace_still_scrubs_the_message_after_a_kept_type_name() -> None:
    trace = _trace(InvalidToken(f"refused Bearer {PASSWORD}"))
    assert PASSWORD not in trace
    assert "InvalidToken: refused Bearer [REDACTED]" in trace


def test_trace_of_a_megabyte_message_scrubs_only_what_it_keeps(monkeypatch) -> None:
    # A handler's error that quotes the request (``KeyError(body)``): the whole trace was
    # scrubbed before its last 16 KiB were kept, over half a second of CPU for 1 MB.
    from daloy_edge.observability import _inline, _redact

    read: list[int] = []
    scrub = _inline.scrub_inline

    def counted(text: str, rule: _inline.InlineRule) -> str:
        read.append(len(text))
        return scrub(text, rule)

    monkeypatch.setattr(_inline, "scrub_inline", counted)
    monkeypatch.setattr(_redact, "scrub_inline", counted)
    trace = _trace(KeyError(f"pwd={PASSWORD}, " * 30_000))

    assert sum(read) < 64 * 1024
    assert PASSWORD not in trace
    assert "KeyError: 'pwd=[REDACTED]" in trace
    assert trace.rstrip().endswith("more]")
