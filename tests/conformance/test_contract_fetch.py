"""CONTRACT.md, ``GET /fetch?url=`` through the egress guard, on every transport.

The app may reach only 127.0.0.0/8 (``DALOY_EGRESS_ALLOW_CIDRS``), where the test
upstream listens. Every refused destination here is still on this machine (IPv6
loopback, 0.0.0.0), so even a broken guard could not send a packet elsewhere; metadata
and private-network destinations are refused in ``netns_contract_fetch.py``, inside a
network namespace with nothing but loopback.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conformance.harness.checks import assert_problem
from tests.conformance.harness.client import Reply, Transport
from tests.conformance.harness.upstream import PAYLOAD, Upstream

pytestmark = pytest.mark.usefixtures("fetch_ready")


def fetch(http: Transport, url: str) -> Reply:
    return http.get("/fetch?url=" + quote(url, safe=""))


def test_fetch_of_an_allowed_upstream_answers_its_status_and_size(
    http: Transport, upstream: Upstream
) -> None:
    reply = fetch(http, upstream.url("/payload"))
    assert reply.status == 200, reply.body[:300]
    assert reply.json() == {"status": 200, "bytes": len(PAYLOAD)}


def test_fetch_passes_the_upstream_status_through(http: Transport, upstream: Upstream) -> None:
    reply = fetch(http, upstream.url("/teapot"))
    assert reply.status == 200
    assert reply.json() == {"status": 418, "bytes": 0}


@pytest.mark.parametrize(
    "host", ["[::1]", "0.0.0.0", "[::ffff:0.0.0.0]"], ids=["ipv6-loopback", "this-host", "mapped"]
)
def test_fetch_of_a_denied_address_is_403_egress_denied(
    http: Transport, upstream: Upstream, host: str
) -> None:
    before = upstream.hits
    reply = fetch(http, upstream.url("/payload", host=host))
    problem = assert_problem(reply, 403)
    assert str(problem["type"]).endswith("egress-denied")
    assert upstream.hits == before


def test_fetch_refuses_a_redirect_to_a_denied_address(http: Transport, upstream: Upstream) -> None:
    hop = upstream.url("/payload", host="[::1]")
    reply = fetch(http, upstream.url("/redirect?to=" + quote(hop, safe="")))
    problem = assert_problem(reply, 403)
    assert str(problem["type"]).endswith("egress-denied")


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://127.0.0.1/"],
    ids=["file", "gopher", "ftp"],
)
def test_fetch_of_a_non_http_scheme_is_refused(http: Transport, url: str) -> None:
    reply = fetch(http, url)
    problem = assert_problem(reply, 403)
    assert str(problem["type"]).endswith("egress-denied")
    assert b"root:" not in reply.body


@pytest.mark.parametrize(
    "host",
    ["xn--a.example", "xn--bcher-kva9.example", "xn--mi7ccd.example", "xn--bcher-2pa.example"],
)
def test_fetch_of_a_punycode_host_no_parser_accepts_is_403_egress_denied(
    http: Transport, host: str
) -> None:
    # Both labels fail every client's URL parser before any name lookup, so a broken
    # guard sends nothing either; it answered 502 on Workers and 403 elsewhere.
    problem = assert_problem(fetch(http, f"http://{host}/"), 403)
    assert str(problem["type"]).endswith("egress-denied")


def test_fetch_without_a_url_is_400(http: Transport) -> None:
    assert_problem(http.get("/fetch"), 400)
