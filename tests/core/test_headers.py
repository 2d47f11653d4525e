import pytest

from daloy_edge import Headers
from tests.support.mutators import EACH_MUTATOR


def test_lookup_is_case_insensitive():
    assert Headers({"Content-Type": "a"})["CONTENT-type"] == "a"


def test_repeated_fields_are_kept_in_order():
    h = Headers([("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    assert h.get_all("set-cookie") == ["a=1", "b=2"]


def test_setitem_replaces_every_value():
    h = Headers([("x", "1"), ("X", "2")])
    h["x"] = "3"
    assert h.get_all("x") == ["3"]


def test_setdefault_keeps_existing_value():
    h = Headers({"a": "1"})
    assert h.setdefault("A", "2") == "1"
    assert h.get_all("a") == ["1"]


def test_delete_and_pop():
    h = Headers({"a": "1", "b": "2"})
    assert h.pop("A") == "1"
    del h["b"]
    assert len(h) == 0


def test_repr_masks_credentials():
    text = repr(Headers({"Authorization": "Bearer secret-token", "Cookie": "s=v", "A": "b"}))
    assert "secret-token" not in text
    assert "s=v" not in text
    assert "'b'" in text


def test_contains_ignores_non_strings():
    assert 1 not in Headers({"a": "1"})


def test_from_dict_is_independent_of_its_source() -> None:
    source = {"a": "1"}
    h = Headers.from_dict(source)
    h.add("b", "2")
    source["c"] = "3"
    assert h.items() == [("a", "1"), ("b", "2")]
    assert source == {"a": "1", "c": "3"}


@pytest.mark.parametrize(
    "start",
    [
        [],
        [("content-type", "a")],
        [("server-timing", "x"), ("a", "1"), ("x-request-id", "y"), ("server-timing", "z")],
        [("x-request-id", "y"), ("b", "2")],
    ],
)
def test_put_lowered_pair_is_two_setitems(start: list[tuple[str, str]]) -> None:
    one, two = Headers(start), Headers(start)
    one["x-request-id"] = "1"
    one["server-timing"] = "2"
    two.put_lowered_pair("x-request-id", "1", "server-timing", "2")
    assert two.items() == one.items()


def test_names_and_keys_list_each_name_once_in_first_seen_order():
    h = Headers([("B", "1"), ("a", "2"), ("set-cookie", "x"), ("b", "3"), ("Set-Cookie", "y")])
    assert h.keys() == ["b", "a", "set-cookie"]
    names = h.names()
    assert list(names) == ["b", "a", "set-cookie"]
    assert "set-cookie" in names and "Set-Cookie" not in names
    assert names.isdisjoint({"c"}) and not names.isdisjoint({"a"})
    assert Headers().names() == set()


def test_get_joined_reads_repeated_lines_as_the_one_field_a_joining_runtime_makes():
    lines = Headers([("Sec-Fetch-Site", "same-origin"), ("sec-fetch-site", "cross-site")])
    assert lines.get_joined("Sec-Fetch-Site") == "same-origin, cross-site"
    joined = Headers.from_dict({"sec-fetch-site": "same-origin, cross-site"})
    assert joined.get_joined("Sec-Fetch-Site") == joined.get_joined("sec-fetch-site")
    assert joined.get_joined("sec-fetch-site") == lines.get_joined("sec-fetch-site")
    assert Headers([("A", "1")]).get_joined("b") is None


def test_headers_built_from_headers_keep_every_field():
    source = Headers([("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("ab", "3")])
    assert Headers(source).items() == source.items()


def test_joined_field_is_read_without_the_whitespace_around_each_line():
    # Servers drop it; events and ASGI scopes may keep it: " same-origin" must read as a
    # server delivers it, whichever runtime carried it.
    assert Headers({"sec-fetch-site": " same-origin\t"}).get_joined("sec-fetch-site") == (
        "same-origin"
    )
    lines = Headers([("origin", " https://a.example"), ("Origin", "https://b.example ")])
    assert lines.get_joined("origin") == "https://a.example, https://b.example"


def test_a_name_with_the_kelvin_sign_is_not_lowered_into_its_ascii_lookalike():
    # str.lower() maps the Kelvin sign (U+212A) to "k".
    for headers in (Headers([("Coo\u212aie", "a=1")]), Headers.from_dict({"coo\u212aie": "a=1"})):
        assert "cookie" not in headers


UNSENDABLE_VALUES = pytest.mark.parametrize(
    "value",
    ["a\r\nset-cookie: s=forged", "a\nb", "a\rb", "a\x00b", "a\x7fb", "a\x0bb", "\u20ac", "\u0100"],
    ids=["crlf", "lf", "cr", "nul", "delete", "vertical-tab", "euro", "past-latin-1"],
)


@EACH_MUTATOR
@UNSENDABLE_VALUES
def test_a_field_added_with_a_value_no_runtime_sends_is_refused(mutate, value):
    h = Headers()
    with pytest.raises(ValueError, match="'X-Note'"):
        mutate(h, "X-Note", value)
    assert h.items() == []


@EACH_MUTATOR
@pytest.mark.parametrize(
    "name",
    ["x note", "x-note:", "", "x\r\nset-cookie", "coo\u212aie", "caf\u00e9", "x\tnote"],
    ids=["space", "colon", "empty", "crlf", "kelvin-sign", "latin-1", "tab"],
)
def test_a_field_added_with_a_name_that_is_no_token_is_refused(mutate, name):
    h = Headers()
    with pytest.raises(ValueError, match="is not a token"):
        mutate(h, name, "1")
    assert h.items() == []


@EACH_MUTATOR
@pytest.mark.parametrize("value", [None, 1, b"1"], ids=["none", "int", "bytes"])
def test_a_field_added_with_a_value_that_is_no_text_is_refused(mutate, value):
    with pytest.raises(ValueError, match="no field value"):
        mutate(Headers(), "x-note", value)


def test_a_refused_replacement_keeps_the_values_it_would_have_replaced():
    h = Headers([("x-note", "1"), ("x-note", "2")])
    with pytest.raises(ValueError):
        h["x-note"] = "3\r\n"
    assert h.get_all("x-note") == ["1", "2"]


def test_the_refusal_names_the_field_but_never_its_value():
    with pytest.raises(ValueError) as refused:
        Headers().add("x-api-key", "s3cret-key\n")
    assert "x-api-key" in str(refused.value)
    assert "s3cret" not in str(refused.value)


@EACH_MUTATOR
@pytest.mark.parametrize(
    "value",
    ["", "a\tb", "a  b", 'attachment; filename="caf\u00e9.txt"', "\u00ff", "~!#$%^&*()"],
    ids=["empty", "tab", "spaces", "obs-text", "last-latin-1", "punctuation"],
)
def test_a_field_value_of_field_value_characters_is_added(mutate, value):
    h = Headers()
    mutate(h, "X-Note", value)
    assert h.items() == [("x-note", value)]


@EACH_MUTATOR
@pytest.mark.parametrize(
    ("value", "sent"),
    [(" padded ", "padded"), ("\tv1\t", "v1"), (" ", ""), ("a \t b ", "a \t b")],
    ids=["spaces", "tabs", "blank", "inner-kept"],
)
def test_spaces_and_tabs_around_a_value_are_dropped_as_servers_refuse_or_strip_them(
    mutate, value, sent
):
    # h11 (uvicorn's HTTP/1.1) refused such a field and dropped the connection.
    h = Headers()
    mutate(h, "X-Note", value)
    assert h.items() == [("x-note", sent)]


def test_setdefault_of_a_present_field_adds_nothing_and_checks_nothing():
    h = Headers([("content-type", "text/plain")])
    assert h.setdefault("Content-Type", "a\nb") == "text/plain"
    assert h.items() == [("content-type", "text/plain")]


def test_a_request_field_the_app_refuses_later_is_taken_as_received():
    # A request's fields are built by the adapters and judged by the app (400 for a
    # control character); building them never raises.
    h = Headers([("X-Note", "a\x01b"), ("Caf\u00e9", "\u00e9")])
    h.add_lowered("cookie", "a=\x00")
    h.put_lowered("host", "a\r\n")
    h.extend_lowered([("x bad", "1")])
    assert len(h) == 5


def test_a_str_default_types_the_lookup_as_str_for_a_users_checker(type_errors):
    # Typed "str | None" whatever the default, a handler passing the value on
    # (egress_client(request).get(request.headers.get("x-url", ""))) failed mypy --strict.
    assert (
        type_errors(
            """
            from typing import assert_type
            from daloy_edge import Headers, Request

            headers = Headers({"a": "1"})
            assert_type(headers.get("a", ""), str)
            assert_type(headers.pop("a", ""), str)
            assert_type(headers.get("a"), str | None)
            assert_type(Request("GET", "/", query_string="a=1").query.get("a", ""), str)
            assert_type(Request("GET", "/").query.get("a"), str | None)
            """
        )
        == []
    )


def test_a_second_content_type_added_is_joined_to_the_first():
    # A browser reads the two lines as one list and renders by its last type: kept
    # apart, get() gave the first alone to everything that decides by the type.
    h = Headers([("content-type", "application/json"), ("x-a", "1")])
    h.add("Content-Type", "text/html")
    assert h.items() == [("content-type", "application/json, text/html"), ("x-a", "1")]
