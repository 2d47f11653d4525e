"""The header-name check remembers name sequences it accepted; what it remembers must
never let a request through that the full check refuses."""

from __future__ import annotations

import types

import pytest

from daloy_edge import BadRequest, Headers, RequestHeaderFieldsTooLarge, RequestLimits, _guards
from daloy_edge._guards import check_request


@pytest.fixture(autouse=True)
def _empty_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_guards, "_ACCEPTED_NAMES", {})


def _check(fields: list[tuple[str, str]], limits: RequestLimits | None = None) -> str | None:
    request = types.SimpleNamespace(
        method="GET", headers=Headers._from_lowered(fields), raw_path="/", query_string=""
    )
    try:
        check_request(request, limits or RequestLimits())  # type: ignore[arg-type]
    except (BadRequest, RequestHeaderFieldsTooLarge) as exc:
        return str(exc.detail)
    return None


def test_accepted_names_are_remembered_and_values_still_checked() -> None:
    names = ("host", "accept", "content-length")
    assert _check([("host", "a"), ("accept", "*/*"), ("content-length", "0")]) is None
    assert {names: len(" ".join(names))} == _guards._ACCEPTED_NAMES
    # The same names again: the remembered verdict covers the names only.
    assert _check([("host", "a"), ("accept", "*/*"), ("content-length", "0")]) is None
    bad = [("host", "a\r\nx: y"), ("accept", "*/*"), ("content-length", "0")]
    assert _check(bad) == "control character in header value"
    assert _check([("host", "a"), ("accept", "\x7f"), ("content-length", "")]) == (
        "control character in header value"
    )


def test_remembered_names_still_count_towards_the_size_limits() -> None:
    fields = [("host", "a"), ("x-big", "b")]
    assert _check(fields) is None
    # Joined, "host x-big" is 10 characters and the values "a" plus a tab and the rest.
    limits = RequestLimits(max_header_bytes=40, max_total_header_bytes=41)
    assert _check([("host", "a"), ("x-big", "b" * 30)], limits) == (
        "header fields are too large in total"
    )
    assert _check([("host", "a"), ("x-big", "b" * 36)], limits) == "a header field is too large"
    assert _check([("host", "a"), ("x-big", "b" * 29)], limits) is None


@pytest.mark.parametrize(
    ("fields", "verdict"),
    [
        ([("content-length", "0"), ("content-length", "0")], "repeated Content-Length"),
        (
            [("content-length", "0"), ("transfer-encoding", "chunked")],
            "both Transfer-Encoding and Content-Length",
        ),
        ([("host", "a"), ("host", "b")], "repeated Host"),
        ([("Host", "a")], "invalid header name"),
        ([("host", "a"), ("", "b")], "invalid header name"),
        ([("bad name", "a")], "invalid header name"),
    ],
)
def test_refused_names_are_never_remembered(fields: list[tuple[str, str]], verdict: str) -> None:
    for _ in range(3):
        assert _check(fields) == verdict
    assert _guards._ACCEPTED_NAMES == {}


def test_a_name_check_failure_comes_before_a_value_failure_as_before() -> None:
    assert _check([("a b", "\x00")]) == "invalid header name"
    # Framing is judged after the values, whether or not the names are remembered.
    fields = [("content-length", "\x00"), ("content-length", "1")]
    assert _check(fields) == "control character in header value"


def test_near_miss_names_are_checked_in_full() -> None:
    assert _check([("content-length", "1"), ("x-content-length", "2")]) is None
    assert _check([("content-length", "1"), ("content-lengths", "2")]) is None
    assert _check([("content-length", "1"), ("content-length", "2")]) == "repeated Content-Length"
    assert _check([("host", "a"), ("x-forwarded-host", "b"), ("x-host", "c")]) is None
    assert _check([("host", "a"), ("x-host", "c"), ("host", "a")]) == "repeated Host"


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_guards, "_ACCEPTED_MAX", 3)
    for n in range(10):
        assert _check([(f"x-name-{n}", "v")]) is None
    assert 0 < len(_guards._ACCEPTED_NAMES) <= 3
    # Names longer than the size bound are checked every time and never kept.
    long_name = "x" * (_guards._ACCEPTED_SIZE + 1)
    monkeypatch.setattr(_guards, "_ACCEPTED_NAMES", {})
    assert _check([(long_name, "v")]) is None
    assert _guards._ACCEPTED_NAMES == {}


def test_names_made_up_by_the_hundred_do_not_keep_a_new_client_off_the_fast_path() -> None:
    for n in range(2 * _guards._ACCEPTED_MAX):
        assert _check([("host", "a"), (f"x-made-up-{n}", "v")]) is None
    browser = [("host", "a"), ("user-agent", "b"), ("accept", "*/*")]
    assert _check(browser) is None
    assert ("host", "user-agent", "accept") in _guards._ACCEPTED_NAMES


def test_the_value_table_marks_the_bytes_has_control_refuses() -> None:
    built = bytes(
        0x20 if (code < 0x20 and code != 0x09) or code == 0x7F else 0x61 for code in range(256)
    )
    assert built == _guards._VALUES
