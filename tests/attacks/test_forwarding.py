"""Spoofed X-Forwarded-For / Forwarded headers against client-address resolution."""

from __future__ import annotations

import json
import sys

import pytest

from daloy_edge import App, ConfigError, Headers, Request
from daloy_edge.middleware.client_ip import TrustedProxies, TrustedProxiesConfig
from daloy_edge.middleware.ip_filter import IPFilter, IPFilterConfig
from daloy_edge.testing import TestClient
from tests.support.calls import calls_made


def make_client(proxies: tuple[str, ...] = (), header: str = "x-forwarded-for") -> TestClient:
    resolver = TrustedProxies(TrustedProxiesConfig(proxies=proxies, header=header))  # type: ignore[arg-type]
    app = App(middleware=[resolver])

    @app.get("/ip")
    async def ip(request: Request) -> dict[str, object]:
        return {"ip": request.client_ip}

    @app.get("/scheme")
    async def scheme(request: Request) -> dict[str, object]:
        return {"scheme": request.scheme, "url": request.url}

    @app.get("/admin", middleware=[IPFilter(IPFilterConfig(allow=("127.0.0.1/32", "::1/128")))])
    async def admin(request: Request) -> dict[str, bool]:
        return {"ok": True}

    return TestClient(app)


def client_ip(client: TestClient, peer: str, headers: object = None) -> object:
    return client.get("/ip", client=peer, headers=headers).json()["ip"]


def test_forwarded_for_is_ignored_when_no_proxy_is_trusted():
    client = make_client()
    assert client_ip(client, "203.0.113.9", {"x-forwarded-for": "127.0.0.1"}) == "203.0.113.9"


def test_forwarded_header_is_ignored_when_no_proxy_is_trusted():
    client = make_client(header="forwarded")
    assert client_ip(client, "203.0.113.9", {"forwarded": "for=127.0.0.1"}) == "203.0.113.9"


def test_spoofed_loopback_cannot_reach_the_admin_allow_list():
    client = make_client()
    response = client.get("/admin", client="203.0.113.9", headers={"x-forwarded-for": "127.0.0.1"})
    assert response.status == 403


def test_spoofed_loopback_behind_a_trusted_proxy_cannot_reach_admin():
    client = make_client(("10.0.0.0/8",))
    response = client.get(
        "/admin", client="10.0.0.2", headers={"x-forwarded-for": "127.0.0.1, 198.51.100.7"}
    )
    assert response.status == 403


def test_untrusted_peer_forwarding_header_is_ignored_even_if_others_are_trusted():
    client = make_client(("10.0.0.0/8",))
    assert client_ip(client, "198.51.100.7", {"x-forwarded-for": "10.0.0.5"}) == "198.51.100.7"


def test_right_most_untrusted_address_is_the_client():
    client = make_client(("10.0.0.0/8",))
    headers = {"x-forwarded-for": "1.1.1.1, 203.0.113.5, 10.0.0.3"}
    assert client_ip(client, "10.0.0.2", headers) == "203.0.113.5"


def test_left_most_spoofed_entries_are_ignored():
    client = make_client(("10.0.0.0/8",))
    headers = {"x-forwarded-for": "127.0.0.1, ::1, 203.0.113.5"}
    assert client_ip(client, "10.0.0.2", headers) == "203.0.113.5"


def test_repeated_forwarding_header_lines_are_read_in_order():
    client = make_client(("10.0.0.0/8",))
    headers = [("x-forwarded-for", "127.0.0.1"), ("x-forwarded-for", "203.0.113.5, 10.0.0.9")]
    assert client_ip(client, "10.0.0.2", headers) == "203.0.113.5"


def test_all_trusted_chain_resolves_to_the_left_most_hop():
    client = make_client(("10.0.0.0/8",))
    assert client_ip(client, "10.0.0.2", {"x-forwarded-for": "10.1.1.1, 10.0.0.3"}) == "10.1.1.1"


def test_trusted_proxy_without_forwarding_header_is_the_client():
    client = make_client(("10.0.0.0/8",))
    assert client_ip(client, "10.0.0.2") == "10.0.0.2"


def test_garbage_hop_makes_the_client_unknown():
    client = make_client(("127.0.0.0/8",))
    headers = {"x-forwarded-for": "not-an-ip"}
    assert client_ip(client, "127.0.0.1", headers) is None


def test_garbage_hop_from_a_trusted_loopback_proxy_cannot_reach_admin():
    client = make_client(("127.0.0.0/8",))
    response = client.get("/admin", client="127.0.0.1", headers={"x-forwarded-for": "garbage"})
    assert response.status == 403


@pytest.mark.parametrize("peer", ["unix-socket", "localhost"])
def test_peer_that_is_no_address_behind_trusted_proxies_cannot_claim_loopback(peer):
    # A server on a Unix socket, or an event without a source address: the forwarded
    # loopback must not be believed, and the answer is a 403, not a 500.
    client = make_client(("10.0.0.0/8",))
    spoof = {"x-forwarded-for": "127.0.0.1"}
    assert client.get("/ip", client=peer, headers=spoof).json()["ip"] is None
    assert client.get("/admin", client=peer, headers=spoof).status == 403


def test_empty_hop_makes_the_client_unknown():
    client = make_client(("10.0.0.0/8",))
    assert client_ip(client, "10.0.0.2", {"x-forwarded-for": "203.0.113.5,,"}) is None


def test_overlong_trusted_chain_makes_the_client_unknown():
    client = make_client(("10.0.0.0/8",))
    chain = ", ".join(["10.0.0.1"] * 40)
    assert client_ip(client, "10.0.0.2", {"x-forwarded-for": chain}) is None


def test_client_one_hop_past_max_hops_is_unknown():
    # max_hops bounds the hops read, the client's own included: at the bound the client
    # is found, one past it nothing is believed.
    config = TrustedProxiesConfig(proxies=("10.0.0.0/8",), max_hops=2)
    app = App(middleware=[TrustedProxies(config)])

    @app.get("/ip")
    async def ip(request: Request) -> dict[str, object]:
        return {"ip": request.client_ip}

    client = TestClient(app)
    at_bound = {"x-forwarded-for": "203.0.113.5, 10.0.0.3"}
    past_bound = {"x-forwarded-for": "203.0.113.5, 10.0.0.4, 10.0.0.3"}
    assert client_ip(client, "10.0.0.2", at_bound) == "203.0.113.5"
    assert client_ip(client, "10.0.0.2", past_bound) is None


def test_ipv4_mapped_ipv6_peer_is_normalised():
    client = make_client()
    assert client_ip(client, "::ffff:203.0.113.9") == "203.0.113.9"


def test_ipv4_mapped_ipv6_hop_is_normalised():
    client = make_client(("10.0.0.0/8",))
    headers = {"x-forwarded-for": "::ffff:203.0.113.5"}
    assert client_ip(client, "10.0.0.2", headers) == "203.0.113.5"


def test_ipv4_mapped_trusted_proxy_peer_is_recognised():
    client = make_client(("10.0.0.0/8",))
    headers = {"x-forwarded-for": "203.0.113.5"}
    assert client_ip(client, "::ffff:10.0.0.2", headers) == "203.0.113.5"


def test_hop_with_port_is_read():
    client = make_client(("10.0.0.0/8",))
    assert client_ip(client, "10.0.0.2", {"x-forwarded-for": "203.0.113.5:4711"}) == "203.0.113.5"


def test_forwarded_header_with_quoted_ipv6_and_port():
    client = make_client(("10.0.0.0/8",), header="forwarded")
    headers = {"forwarded": 'for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711"'}
    assert client_ip(client, "10.0.0.2", headers) == "2001:db8:cafe::17"


def test_forwarded_obfuscated_identifier_makes_the_client_unknown():
    client = make_client(("10.0.0.0/8",), header="forwarded")
    assert client_ip(client, "10.0.0.2", {"forwarded": "for=_hidden"}) is None


def test_open_quote_cannot_swallow_the_hop_a_proxy_appends_to_the_line():
    client = make_client(("10.0.0.0/8",), header="forwarded")
    spoofed = 'for=127.0.0.1;x=", for=203.0.113.5'
    response = client.get("/admin", client="10.0.0.2", headers={"forwarded": spoofed})
    assert response.status == 403


@pytest.mark.parametrize(
    ("lines", "client"),
    [
        ([("forwarded", 'for=127.0.0.1;x="'), ("forwarded", "for=203.0.113.5")], "203.0.113.5"),
        # The same two lines as HTTP APIs, Cloud Functions and Workers hand them over.
        ([("forwarded", 'for=127.0.0.1;x=", for=203.0.113.5')], "203.0.113.5"),
        ([("forwarded", 'for=127.0.0.1;x=", for="[2001:db8::5]:4711"')], "2001:db8::5"),
    ],
)
def test_open_quote_cannot_make_the_client_unknown_where_runtimes_join_lines(lines, client):
    resolver = make_client(("10.0.0.0/8",), header="forwarded")
    assert client_ip(resolver, "10.0.0.2", lines) == client


def test_x_forwarded_for_is_ignored_when_forwarded_is_configured():
    client = make_client(("10.0.0.0/8",), header="forwarded")
    headers = {"x-forwarded-for": "127.0.0.1", "forwarded": "for=203.0.113.5"}
    assert client_ip(client, "10.0.0.2", headers) == "203.0.113.5"


def test_forwarded_is_ignored_when_x_forwarded_for_is_configured():
    client = make_client(("10.0.0.0/8",))
    headers = {"forwarded": "for=127.0.0.1", "x-forwarded-for": "203.0.113.5"}
    assert client_ip(client, "10.0.0.2", headers) == "203.0.113.5"


def scheme_of(client: TestClient, peer: str, headers: object = None) -> object:
    # Served over plain HTTP, as a proxy that ends TLS passes requests on.
    return client.get("http://app.example/scheme", client=peer, headers=headers).json()


def test_a_trusted_proxy_ending_tls_makes_the_scheme_https():
    # nginx: proxy_set_header X-Forwarded-Proto $scheme. Read as the server's "http",
    # the app took http://app.example for its own origin behind an HTTPS site.
    client = make_client(("10.0.0.0/8",))
    headers = {"x-forwarded-for": "203.0.113.5", "x-forwarded-proto": "https"}
    seen = scheme_of(client, "10.0.0.2", headers)
    assert seen == {"scheme": "https", "url": "https://app.example/scheme"}


def test_the_scheme_a_client_claims_is_ignored_when_no_proxy_is_trusted():
    client = make_client()
    assert scheme_of(client, "203.0.113.9", {"x-forwarded-proto": "https"})["scheme"] == "http"


def test_the_scheme_an_untrusted_peer_claims_is_ignored_even_if_others_are_trusted():
    client = make_client(("10.0.0.0/8",))
    headers = {"x-forwarded-for": "10.0.0.2", "x-forwarded-proto": "https"}
    assert scheme_of(client, "203.0.113.9", headers)["scheme"] == "http"


@pytest.mark.parametrize(
    ("lines", "scheme"),
    [
        # The right-most entry is the one the nearest proxy set or appended.
        ([("x-forwarded-proto", "http, https")], "https"),
        ([("x-forwarded-proto", "https"), ("x-forwarded-proto", "http")], "http"),
        ([("x-forwarded-proto", " HTTPS ")], "https"),
        # Nothing but http or https is a scheme: the server's stays.
        ([("x-forwarded-proto", "https, wss")], "http"),
        ([("x-forwarded-proto", "javascript")], "http"),
        ([("x-forwarded-proto", "")], "http"),
    ],
)
def test_the_scheme_is_the_right_most_x_forwarded_proto_entry(lines, scheme):
    client = make_client(("10.0.0.0/8",))
    headers = [("x-forwarded-for", "203.0.113.5"), *lines]
    assert scheme_of(client, "10.0.0.2", headers)["scheme"] == scheme


@pytest.mark.parametrize(
    ("value", "scheme"),
    [
        ("for=203.0.113.5;proto=https", "https"),
        ('for=192.0.2.1;proto=http, for="203.0.113.5";Proto="HTTPS"', "https"),
        ("for=192.0.2.1;proto=https, for=203.0.113.5", "http"),
        ('for=203.0.113.5;x=";proto=https', "http"),
    ],
)
def test_the_scheme_is_the_proto_of_the_right_most_forwarded_element(value, scheme):
    client = make_client(("10.0.0.0/8",), header="forwarded")
    assert scheme_of(client, "10.0.0.2", {"forwarded": value})["scheme"] == scheme


def test_x_forwarded_proto_is_ignored_when_forwarded_is_configured():
    client = make_client(("10.0.0.0/8",), header="forwarded")
    headers = {"forwarded": "for=203.0.113.5", "x-forwarded-proto": "https"}
    assert scheme_of(client, "10.0.0.2", headers)["scheme"] == "http"


def test_forwarded_proto_is_ignored_when_x_forwarded_for_is_configured():
    client = make_client(("10.0.0.0/8",))
    headers = {"x-forwarded-for": "203.0.113.5", "forwarded": "for=203.0.113.5;proto=https"}
    assert scheme_of(client, "10.0.0.2", headers)["scheme"] == "http"


@pytest.mark.parametrize(
    ("path", "fields", "status"),
    [
        ("/ip/..%2f..%2fetc%2fpasswd", {}, 400),  # refused by the path guard
        ("/ip", {"x-a": "\x01"}, 400),  # a control character in a field
    ],
)
def test_a_request_refused_before_the_middleware_is_logged_from_the_client_not_the_proxy(
    capsys: pytest.CaptureFixture[str], path: str, fields: dict[str, str], status: int
) -> None:
    # The sanitation guard answers before any middleware runs: behind a proxy, every
    # traversal or injection attempt was logged as coming from the proxy's own address.
    client = make_client(("10.0.0.0/8",))
    capsys.readouterr()
    headers = {"x-forwarded-for": "203.0.113.5", "x-forwarded-proto": "https", **fields}
    # Served over plain HTTP, as a proxy that ends TLS passes requests on.
    url = f"http://app.example{path}"
    assert client.get(url, client="10.0.0.2", headers=headers).status == status
    (line,) = capsys.readouterr().out.splitlines()
    attributes = json.loads(line)["Attributes"]
    assert (attributes["client.address"], attributes["url.scheme"]) == ("203.0.113.5", "https")


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_trusting_everyone_refuses_to_build(cidr):
    with pytest.raises(ConfigError):
        TrustedProxiesConfig(proxies=(cidr,))


def test_a_hop_bound_of_nan_refuses_to_build():
    # No chain is longer than NaN: X-Forwarded-For chains of any length were walked.
    with pytest.raises(ConfigError, match="max_hops"):
        TrustedProxiesConfig(proxies=("10.0.0.0/8",), max_hops=float("nan"))


def test_host_bits_in_a_cidr_refuse_to_build():
    with pytest.raises(ConfigError):
        TrustedProxiesConfig(proxies=("10.0.0.1/8",))


@pytest.mark.parametrize("element", ["", "for=10.0.0.1", 'for="[::1]";by=x'])
def test_a_forwarded_header_of_thousands_of_elements_is_read_no_further_than_max_hops(element):
    # Resolution looks at max_hops hops at most (16), yet each of a client's 4,000 empty
    # elements was parsed first: 2 ms of CPU per request for one 8 KiB header.
    resolver = TrustedProxies(TrustedProxiesConfig(proxies=("10.0.0.0/8",), header="forwarded"))

    def work(count: int) -> int:
        header = ", ".join([element] * count)
        request = Request("GET", "/", headers=Headers([("forwarded", header)]), client="10.0.0.2")
        return calls_made(lambda: resolver.resolve(request))

    work(40)  # the hop's address read once, as it is remembered after
    assert work(4000) == work(40)


@pytest.mark.parametrize("max_hops", [sys.maxsize, 2**64])
def test_a_hop_bound_past_the_platforms_word_still_resolves_forwarded(max_hops):
    # max_hops=sys.maxsize, "no bound", reached str.rsplit as its count: OverflowError,
    # a 500 for every request carrying a Forwarded header (on Pyodide from 2**31).
    resolver = TrustedProxies(
        TrustedProxiesConfig(proxies=("10.0.0.0/8",), header="forwarded", max_hops=max_hops)
    )
    app = App(middleware=[resolver])

    @app.get("/ip")
    async def ip(request: Request) -> dict[str, object]:
        return {"ip": request.client_ip}

    headers = [("forwarded", "for=198.51.100.7, for=10.0.0.1"), ("forwarded", "for=10.0.0.3")]
    assert client_ip(TestClient(app), "10.0.0.2", headers) == "198.51.100.7"
