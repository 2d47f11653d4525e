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
