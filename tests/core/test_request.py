"""Reading the request: query parameters and form fields."""

from __future__ import annotations

import asyncio
import random

import pytest

from daloy_edge import BadRequest, Headers, Request, UnsupportedMediaType
from daloy_edge._request import QueryParams
from tests.support.calls import calls_made, instructions_run

FIELDS = "&".join(f"k{i}=v" for i in range(1000))


def test_a_thousand_fields_and_a_trailing_ampersand_are_read() -> None:
    assert len(QueryParams(FIELDS + "&")) == 1000


def test_empty_fields_between_ampersands_do_not_count_toward_the_bound() -> None:
    query = "&&".join(f"k{i}=v" for i in range(600))
    assert len(QueryParams(query)) == 600


def test_a_thousand_and_one_fields_are_refused() -> None:
    with pytest.raises(BadRequest):
        QueryParams(FIELDS + "&k=v")


PIECES = ["%41", "%C3%A9", "%E2%82", "%ac", "%zz", "%", "%2", "+", "=", "&", "&&", "a", "\u00e9"]
PIECES += ["%26", "%3D", "%2B", "\\", "\\x41", "%5C", "%ED%A0%80", "%F0%9F%98%80", "%00"]


def test_fields_are_read_as_parse_qsl_reads_them() -> None:
    from urllib.parse import parse_qsl

    rng = random.Random(20261207)
    for _ in range(20_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12)))
        assert QueryParams(text)._items == parse_qsl(text, keep_blank_values=True), text


def test_a_form_of_escapes_is_decoded_without_a_call_per_escape() -> None:
    # The flood: an urlencoded body of escapes (a login form reads any client's). Decoded
    # by unquote, one escape at a time in Python, 1 MiB of them took 0.3 s of CPU.
    body = b"a=" + b"%41" * 20_000 + b"&b=" + b"x%C3%A9" * 5_000
    request = Request(
        "POST",
        "/form",
        headers=Headers({"content-type": "application/x-www-form-urlencoded"}),
        body=body,
    )
    asyncio.run(request.body())  # read first: only the decoding is counted
    form: dict[str, str] = {}

    def read_form() -> None:
        # The body is read: the coroutine ends at its first step, with no loop around it.
        try:
            request.form().send(None)
        except StopIteration as done:
            form.update(done.value)

    read_form()  # the first read also compiles the patterns it uses, and imports
    assert calls_made(read_form) < 100
    assert form == {"a": "A" * 20_000, "b": "x\u00e9" * 5_000}


@pytest.mark.parametrize("parameter", [";", "; x=1", ";profile"])
def test_a_content_type_of_thousands_of_parameters_is_read_without_a_call_per_parameter(
    parameter: str,
) -> None:
    # The flood: a JSON route's Content-Type of 8 KiB of parameters, none a charset; each
    # was split, stripped and lowered to look for one, 2 ms of CPU for any client's POST.
    parsed: list[object] = []

    def calls(count: int) -> int:
        media = "application/json" + parameter * count
        request = Request("POST", "/json", headers=Headers({"content-type": media}), body=b"{}")
        asyncio.run(request.body())  # read first: only the reading of the type is counted

        def read_json() -> None:
            try:
                request.json().send(None)
            except StopIteration as done:
                parsed.append(done.value)

        read_json()  # the first read also imports and builds the parser
        return calls_made(read_json)

    assert calls(8000 // len(parameter)) == calls(2)
    assert parsed == [{}] * 4


@pytest.mark.parametrize("parameter", [";charset=utf-8", ";xcharset", "; charset*=utf-8"])
def test_a_content_type_naming_charset_hundreds_of_times_is_refused_unread(
    parameter: str,
) -> None:
    # Each parameter naming "charset" was split, stripped and compared: 8 KiB of them cost
    # 2 ms of CPU for any client's POST to a JSON or form route. Past a few mentions the
    # type is refused as one naming another charset, without reading them.
    def calls(count: int) -> int:
        media = "application/json" + parameter * count
        request = Request("POST", "/json", headers=Headers({"content-type": media}), body=b"{}")
        asyncio.run(request.body())

        def read_json() -> None:
            with pytest.raises(UnsupportedMediaType):
                request.json().send(None)

        read_json()
        return calls_made(read_json)

    assert calls(8000 // len(parameter)) == calls(5)


def _instructions_to_read_json(media: str, refused: bool) -> int:
    """Instructions run reading a body of ``{}`` as JSON under the Content-Type ``media``
    (after a first read, which imports and builds the parser), checking it is read or
    refused 415 as ``refused`` says."""
    request = Request("POST", "/json", headers=Headers({"content-type": media}), body=b"{}")
    asyncio.run(request.body())

    def read_json() -> None:
        try:
            request.json().send(None)
        except StopIteration as done:
            assert not refused and done.value == {}
        except UnsupportedMediaType:
            assert refused

    read_json()
    return instructions_run(read_json)


@pytest.mark.parametrize(
    ("charset", "refused"), [(";charset=utf-8", False), ("; charset=latin1", True)]
)
def test_a_content_type_of_thousands_of_parameters_and_one_charset_is_read_in_one_step(
    charset: str, refused: bool
) -> None:
    # The flood past the mention bound: 8 KiB of bare ";" and one charset parameter, a
    # valid one, was still split and walked parameter by parameter (0.5 ms of CPU for any
    # client's POST to a JSON route). The walk calls nothing, so instructions are counted.
    def steps(count: int) -> int:
        return _instructions_to_read_json("application/json" + ";" * count + charset, refused)

    assert steps(8000) == steps(2)


@pytest.mark.parametrize(
    ("flood", "refused"), [("{}", True), ('; v="{}"', False), ('; v="{}', True)]
)
def test_a_content_type_of_thousands_of_commas_is_read_in_one_step(
    flood: str, refused: bool
) -> None:
    # The flood: a JSON route's Content-Type holding 8 KiB of commas, outside a quoted
    # string (joined lines, refused), inside one (one type, read) or in one left open, was
    # split character by character in Python: 1 ms of CPU for any client's POST.
    def steps(count: int) -> int:
        return _instructions_to_read_json("application/json" + flood.format("," * count), refused)

    assert steps(8000) == steps(2)


def test_a_content_type_naming_utf_8_up_to_four_times_is_read() -> None:
    media = "application/json; charset=utf-8; charset=UTF-8;x-charset-note=1;charset*=utf-8"
    request = Request("POST", "/json", headers=Headers({"content-type": media}), body=b"{}")
    assert asyncio.run(request.json()) == {}


def test_a_query_of_escapes_is_decoded_without_a_call_per_escape() -> None:
    query = "q=" + "%41b" * 4_000
    params: list[QueryParams] = [QueryParams(query)]  # compiles the patterns it uses
    assert calls_made(lambda: params.append(QueryParams(query))) < 100
    assert params[1].get("q") == "Ab" * 4_000
