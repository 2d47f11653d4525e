import pytest

from daloy_edge._cookies import format_set_cookie, parse_cookie_header, parse_cookies


def test_first_occurrence_wins():
    assert parse_cookie_header("a=1; a=2") == {"a": "1"}


def test_names_sent_more_than_once_are_named_whether_their_values_are_valid_or_not():
    assert parse_cookies("a=1; b=2") == ({"a": "1", "b": "2"}, frozenset())
    assert parse_cookies("a=1; b=2; a=3") == ({"a": "1", "b": "2"}, {"a"})
    # A first value gunicorn made invalid by joining two lines with a comma still counts.
    assert parse_cookies("a=1,x; a=2") == ({"a": "2"}, {"a"})
    assert parse_cookies("a=1,x; a=2,y") == ({}, {"a"})


@pytest.mark.parametrize("header", ["s =0; s=1", "s=1; s =0", "\vs=0; s=1", "s=1; s= 0"])
def test_a_name_other_readers_take_from_a_pair_with_whitespace_is_named_repeated(header):
    # Werkzeug reads the first "s" of "s =0; s=1" (0), Starlette and http.cookies the
    # last of "s=1; s =0" (0), where this read 1 as the only "s".
    assert parse_cookies(header) == ({"s": "1"}, {"s"})


def test_a_name_sent_again_past_the_parsed_cookies_is_named_repeated():
    # Cookies a sibling subdomain set ahead of the victim's own copy of the name.
    filler = "; ".join(f"c{i}=x" for i in range(200))
    cookies, repeated = parse_cookies(f"s=planted; {filler}; s=own")
    assert cookies["s"] == "planted"
    assert "s" in repeated


def test_a_cookie_after_as_many_as_a_browser_holds_for_a_site_is_read():
    # Browsers send the oldest first: a session set after every other cookie comes last.
    others = "; ".join(f"c{i}=x" for i in range(179))
    assert parse_cookie_header(f"{others}; s=own")["s"] == "own"


def test_no_cookie_past_as_many_as_a_browser_holds_for_a_site_is_read():
    # 180 are read; one more would be a cookie no browser sends for one site.
    names = [f"c{i}" for i in range(181)]
    cookies = parse_cookie_header("; ".join(f"{name}=x" for name in names))
    assert len(cookies) == 180
    assert "c179" in cookies
    assert "c180" not in cookies


def test_a_cookie_after_359_pairs_that_are_no_cookie_is_read_and_one_after_360_is_not():
    # 360 pairs are read (two for each cookie a browser holds); past them a pair only
    # counts as a name sent again.
    assert parse_cookie_header("; ".join(["junk"] * 359 + ["s=own"])) == {"s": "own"}
    assert parse_cookie_header("; ".join(["junk"] * 360 + ["s=own"])) == {}


def test_a_kept_name_sent_again_just_past_the_pairs_read_is_named_repeated():
    cookies, repeated = parse_cookies("; ".join(["s=planted"] + ["junk"] * 359 + ["s=own"]))
    assert cookies == {"s": "planted"}
    assert repeated == {"s"}


def test_an_empty_quoted_value_is_an_empty_cookie():
    assert parse_cookie_header('a=""; b=1') == {"a": "", "b": "1"}


def test_quoted_values_are_unquoted():
    assert parse_cookie_header('a="x"') == {"a": "x"}


def test_invalid_pairs_are_skipped():
    assert parse_cookie_header("bad name=1; ok=2; noval; x=a b") == {"ok": "2"}


def test_secure_defaults():
    assert format_set_cookie("s", "v") == "s=v; Path=/; Secure; HttpOnly; SameSite=Lax"


@pytest.mark.parametrize("value", ["a;b", "a\r\nSet-Cookie: x=1", "a b", 'a"b', "a,b"])
def test_refuses_values_that_split_the_header(value):
    with pytest.raises(ValueError, match="invalid cookie value"):
        format_set_cookie("s", value)


@pytest.mark.parametrize("path", ["/a;Domain=evil.example", "/a b", "/a\r\nSet-Cookie: x=1", ";"])
def test_refuses_a_path_that_splits_the_header_or_adds_an_attribute(path):
    with pytest.raises(ValueError, match="invalid cookie path"):
        format_set_cookie("s", "v", path=path)


@pytest.mark.parametrize(
    "domain", ["evil.example; SameSite=None", "a b.example", "a\r\nSet-Cookie: x=1", "a,b"]
)
def test_refuses_a_domain_that_splits_the_header_or_adds_an_attribute(domain):
    with pytest.raises(ValueError, match="invalid cookie domain"):
        format_set_cookie("s", "v", domain=domain)


@pytest.mark.parametrize(
    "same_site",
    ["Lax\r\nSet-Cookie: s=forged", "Lax; Domain=evil.example", "Laxx", ""],
    ids=["crlf", "extra-attribute", "misspelt", "empty"],
)
def test_a_same_site_outside_its_choices_is_refused(same_site):
    # The attribute went out as given: a line break split the field, and "; Domain=..."
    # added an attribute the cookie was never meant to have.
    with pytest.raises(ValueError, match="invalid cookie SameSite"):
        format_set_cookie("s", "v", same_site=same_site)


@pytest.mark.parametrize(("given", "written"), [("lax", "Lax"), ("STRICT", "Strict")])
def test_same_site_in_any_case_is_written_as_spelled(given, written):
    # Starlette and Flask take "lax": a handler moved from them must not answer 500.
    assert format_set_cookie("s", "v", same_site=given).endswith(f"; SameSite={written}")


def test_lower_case_none_forces_secure_too():
    assert "Secure" in format_set_cookie("s", "v", secure=False, same_site="none")


def test_same_site_none_forces_secure():
    assert "Secure" in format_set_cookie("s", "v", secure=False, same_site="None")


def test_http_date_is_imf_fixdate():
    from email.utils import formatdate

    from daloy_edge._cookies import http_date

    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    for ts in (951782400, 1796040000, 4102444799):
        assert http_date(ts) == formatdate(ts, usegmt=True)


def test_delete_cookie_expires_in_the_past():
    from daloy_edge import Response

    response = Response()
    response.delete_cookie("s")
    assert response.headers["set-cookie"].startswith("s=; Max-Age=0; Expires=Thu, 01 Jan 1970")


@pytest.mark.parametrize("space", ["\u2000", "\xa0", "\x85", "\u3000", "\x0b"])
def test_a_name_behind_unicode_whitespace_is_not_a_prefixed_cookie(space):
    # The cookie-prefix bypass: a browser applies the __Host- rules to the exact name, so a
    # sibling subdomain may set "\u2000__Host-session"; read as "__Host-session" it would
    # plant a session.
    assert parse_cookie_header(f"{space}__Host-session=planted") == {}
    assert parse_cookie_header(f"a=1;{space}__Host-session=planted") == {"a": "1"}


def test_ascii_space_and_tab_around_a_pair_are_allowed():
    assert parse_cookie_header("a=1; \tb=2 ") == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    "options",
    [{"domain": "example.com"}, {"path": "/app"}, {"path": None}, {"secure": False}],
)
@pytest.mark.parametrize("name", ["__Host-s", "__host-s", "__HOST-s"])
def test_a_host_prefixed_cookie_browsers_would_drop_is_refused(name, options):
    # Browsers drop it without a word: a session never set, or a logout that never clears.
    with pytest.raises(ValueError, match="Path=/ and no Domain"):
        format_set_cookie(name, "v", **options)


@pytest.mark.parametrize("name", ["__Secure-s", "__secure-s"])
def test_a_secure_prefixed_cookie_without_secure_is_refused(name):
    with pytest.raises(ValueError, match="needs Secure"):
        format_set_cookie(name, "v", secure=False)


def test_deleting_a_host_prefixed_cookie_on_another_path_is_refused():
    from daloy_edge import Response

    with pytest.raises(ValueError, match="Path=/"):
        Response().delete_cookie("__Host-session", path="/app")


def test_prefixed_cookies_with_the_attributes_their_prefix_demands_are_written():
    assert format_set_cookie("__Host-s", "v").startswith("__Host-s=v; Path=/; Secure")
    assert "Secure" in format_set_cookie("__Secure-s", "v", secure=False, same_site="None")
    assert "Domain=example.com" in format_set_cookie("__Secure-s", "v", domain="example.com")


def test_a_cookie_set_for_a_domain_is_deleted_for_that_domain():
    """ASVS 5.0 7.4.1: a browser drops only the cookie of the deletion's name, path and
    domain (RFC 6265, 5.3 step 11): a session kept in a cookie set with ``Domain`` could
    not be ended with ``delete_cookie``, whose host-only deletion left it in place."""
    from daloy_edge import Response

    signed_in = Response()
    signed_in.set_cookie("sso", "token", domain="example.com")
    signed_out = Response()
    signed_out.delete_cookie("sso", domain="example.com")
    assert "Domain=example.com" in signed_in.headers["set-cookie"]
    assert signed_out.headers["set-cookie"].startswith("sso=; Max-Age=0; Expires=Thu, 01 Jan 1970")
    assert "Domain=example.com" in signed_out.headers["set-cookie"]


def test_deleting_a_host_prefixed_cookie_for_a_domain_is_refused():
    from daloy_edge import Response

    with pytest.raises(ValueError, match="no Domain"):
        Response().delete_cookie("__Host-session", domain="example.com")
