import pytest

from daloy_edge import Headers


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
