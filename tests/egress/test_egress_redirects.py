"""Redirect helpers: method rewriting, header preparation and Location resolution."""

from __future__ import annotations

import pytest

from daloy_edge.egress import EgressDenied
from daloy_edge.egress._redirects import next_method, prepare_headers, strip_credentials
from daloy_edge.egress._url import join_location


def test_303_turns_any_method_into_get_without_body():
    assert next_method(303, "PUT", b"x") == ("GET", None)


def test_302_after_post_becomes_get_without_body():
    assert next_method(302, "POST", b"x") == ("GET", None)


@pytest.mark.parametrize("status", [307, 308])
def test_307_and_308_keep_method_and_body(status):
    assert next_method(status, "POST", b"x") == ("POST", b"x")


def test_prepared_headers_ask_for_identity_encoding():
    assert prepare_headers({"Accept": "a"})["accept-encoding"] == "identity"


def test_caller_supplied_host_header_is_refused():
    with pytest.raises(ValueError, match="Host"):
        prepare_headers({"Host": "internal.example"})


def test_strip_credentials_removes_only_the_named_headers():
    headers = {"authorization": "a", "cookie": "c", "accept": "x"}
    assert strip_credentials(headers, frozenset({"authorization", "cookie"})) == {"accept": "x"}


def test_relative_location_resolves_against_the_current_url():
    assert join_location("https://a.example/x/y", "../z?q") == "https://a.example/z?q"


def test_scheme_relative_location_keeps_the_scheme():
    assert join_location("https://a.example/", "//b.example/p") == "https://b.example/p"


@pytest.mark.parametrize("location", ["/\\evil.example", "/a\r\nX: y", "/\u2028", ""])
def test_ambiguous_location_is_refused(location):
    with pytest.raises(EgressDenied):
        join_location("https://a.example/", location)


@pytest.mark.parametrize(
    "location", ["///127.0.0.1/", "////127.0.0.1/", "http:///127.0.0.1/", "HTTP:////127.0.0.1/"]
)
def test_location_with_extra_slashes_before_the_host_is_refused(location):
    # The URL Standard reads 127.0.0.1 as the host of each; urljoin read a path on the
    # current host, so the hop went where no browser or Workers' fetch would go.
    with pytest.raises(EgressDenied, match="slashes"):
        join_location("http://a.example/x", location)


@pytest.mark.parametrize("location", ["http://[::1", "//[bad", "https://[v1.x/"])
def test_malformed_location_is_refused_not_raised(location):
    # urljoin raises ValueError on an unclosed IPv6 bracket; any upstream could send one.
    with pytest.raises(EgressDenied, match="malformed"):
        join_location("https://a.example/", location)
