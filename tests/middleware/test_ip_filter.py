"""IPFilter allow and deny lists over IPv4 and IPv6."""

from __future__ import annotations

import pytest

from daloy_edge import App, ConfigError, Request, Response
from daloy_edge.middleware.ip_filter import IPFilter, IPFilterConfig
from daloy_edge.testing import TestClient


def make_client(**lists: tuple[str, ...]) -> TestClient:
    app = App()

    @app.get("/", middleware=[IPFilter(IPFilterConfig(**lists))])
    async def root(request: Request) -> dict[str, bool]:
        return {"ok": True}

    return TestClient(app)


def status(client: TestClient, address: str | None) -> int:
    return client.get("/", client=address).status  # type: ignore[arg-type]


def test_allowed_ipv4_passes():
    assert status(make_client(allow=("192.0.2.0/24",)), "192.0.2.10") == 200


def test_address_outside_the_allow_list_is_403():
    response = make_client(allow=("192.0.2.0/24",)).get("/", client="198.51.100.1")
    assert response.status == 403
    assert response.json()["type"].endswith("ip-not-allowed")


def test_allowed_ipv6_passes():
    assert status(make_client(allow=("2001:db8::/32",)), "2001:db8::5") == 200


def test_ipv6_outside_the_allow_list_is_403():
    assert status(make_client(allow=("2001:db8::/32",)), "2001:db9::5") == 403


def test_ipv4_mapped_address_matches_an_ipv4_allow_list():
    assert status(make_client(allow=("192.0.2.0/24",)), "::ffff:192.0.2.10") == 200


def test_ipv4_mapped_address_is_caught_by_an_ipv4_deny_list():
    assert status(make_client(deny=("192.0.2.0/24",)), "::ffff:192.0.2.10") == 403


def test_ipv4_mapped_network_in_config_matches_ipv4_clients():
    assert status(make_client(allow=("::ffff:192.0.2.0/120",)), "192.0.2.10") == 200


def test_an_allowed_answer_is_no_store_so_a_shared_cache_never_serves_it_to_other_addresses():
    """Cached by a CDN in front (a default TTL for an answer without Cache-Control), the
    answer an allowed address got went to every address that asked for the URL."""
    client = make_client(allow=("192.0.2.0/24",))
    response = client.get("/", client="192.0.2.10")
    assert response.status == 200
    assert response.headers.get_all("cache-control") == ["no-store"]


def test_an_allow_listed_route_that_chose_its_own_caching_keeps_it():
    app = App()

    @app.get("/", middleware=[IPFilter(IPFilterConfig(allow=("192.0.2.0/24",)))])
    async def root(request: Request) -> Response:
        return Response.json({"ok": True}, headers={"cache-control": "private, max-age=60"})

    response = TestClient(app).get("/", client="192.0.2.10")
    assert response.headers.get_all("cache-control") == ["private, max-age=60"]


def test_a_deny_list_alone_leaves_the_caching_of_public_answers_alone():
    response = make_client(deny=("203.0.113.0/24",)).get("/", client="192.0.2.10")
    assert response.status == 200
    assert "cache-control" not in response.headers


def test_deny_wins_over_allow():
    client = make_client(allow=("10.0.0.0/8",), deny=("10.6.6.0/24",))
    assert status(client, "10.6.6.6") == 403
    assert status(client, "10.1.1.1") == 200


def test_deny_only_list_lets_others_pass():
    assert status(make_client(deny=("10.0.0.0/8",)), "192.0.2.1") == 200


def test_unknown_client_address_is_refused():
    assert status(make_client(deny=("10.0.0.0/8",)), "unknown") == 403


def test_ipv6_zone_is_ignored_when_matching():
    assert status(make_client(allow=("fe80::/10",)), "fe80::1%eth0") == 200


def test_empty_lists_refuse_to_build():
    with pytest.raises(ConfigError):
        IPFilterConfig()


def test_malformed_cidr_refuses_to_build():
    with pytest.raises(ConfigError):
        IPFilterConfig(allow=("300.0.0.0/8",))


def test_single_string_instead_of_tuple_refuses_to_build():
    with pytest.raises(ConfigError):
        IPFilterConfig(allow="10.0.0.0/8")  # type: ignore[arg-type]


def test_an_allow_list_before_trusted_proxies_refuses_to_build():
    # Run first, the filter read the proxy's address: behind a proxy on 127.0.0.1, a
    # list allowing 127.0.0.1 let a client at 203.0.113.9 into /admin.
    from daloy_edge.middleware.client_ip import TrustedProxies, TrustedProxiesConfig

    proxies = TrustedProxies(TrustedProxiesConfig(proxies=("127.0.0.1/32",)))
    app = App(middleware=[IPFilter(IPFilterConfig(allow=("127.0.0.1/32",)))])

    @app.get("/admin", middleware=[proxies])
    async def admin(request: Request) -> dict[str, bool]:
        return {"ok": True}

    with pytest.raises(ConfigError, match="IPFilter reads the client address before"):
        app.build()


def test_an_allow_list_after_trusted_proxies_judges_the_forwarded_client():
    from daloy_edge.middleware.client_ip import TrustedProxies, TrustedProxiesConfig

    proxies = TrustedProxies(TrustedProxiesConfig(proxies=("127.0.0.1/32",)))
    app = App(middleware=[proxies, IPFilter(IPFilterConfig(allow=("127.0.0.1/32",)))])

    @app.get("/admin")
    async def admin(request: Request) -> dict[str, bool]:
        return {"ok": True}

    forwarded = {"x-forwarded-for": "203.0.113.9"}
    assert TestClient(app).get("/admin", headers=forwarded, client="127.0.0.1").status == 403
