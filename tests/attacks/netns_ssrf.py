"""SSRF attacks that need a network; they run only inside a fresh network namespace.

Reported through ``test_ssrf.py``. The "forbidden" servers are loopback addresses the
policy does not allow (127.0.0.3), so a bug shows up as a connection they count.
"""

from __future__ import annotations

from tests import netns

netns.assert_isolated()

import httpx  # noqa: E402
import pytest  # noqa: E402

from daloy_edge.egress import (  # noqa: E402
    EgressDenied,
    EgressFailed,
    EgressPolicy,
    FetchLimits,
    GuardedClient,
    GuardedTransport,
    PolicyOnlyClient,
    SystemResolver,
)
from daloy_edge.testing import TestClient  # noqa: E402
from daloy_edge.transport import HttpxTransport  # noqa: E402
from examples.secure_app import create_app  # noqa: E402
from tests.attacks.test_ssrf import CORPUS  # noqa: E402
from tests.upstream import Reply, Upstream  # noqa: E402

ALLOWED, FORBIDDEN, OTHER = "127.0.0.2", "127.0.0.3", "127.0.0.4"
POLICY = EgressPolicy(ports=None, allow_cidrs=(f"{ALLOWED}/32", f"{OTHER}/32"))


class FixedResolver:
    """Answers from a table; counts lookups."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def resolve(self, host, port):
        self.calls.append(host)
        return self.table[host]


class RebindingResolver:
    """The first lookup answers ``first``; every later one answers ``later``."""

    def __init__(self, first: str, later: str) -> None:
        self.first, self.later = first, later
        self.calls = 0

    async def resolve(self, host, port):
        self.calls += 1
        return [self.first if self.calls == 1 else self.later]


@pytest.fixture
async def allowed():
    async with Upstream(ALLOWED) as server:
        yield server


@pytest.fixture
async def forbidden(allowed):
    async with Upstream(FORBIDDEN, port=allowed.port) as server:
        yield server


@pytest.fixture
async def other(allowed):
    async with Upstream(OTHER, port=allowed.port) as server:
        yield server


async def test_dns_rebinding_connects_only_to_the_first_vetted_answer(allowed, forbidden):
    allowed.replies["/"] = Reply(body=b"first")
    resolver = RebindingResolver(ALLOWED, FORBIDDEN)
    async with GuardedClient(POLICY, resolver=resolver) as client:
        response = await client.get(f"http://rebind.test:{allowed.port}/")
    assert (response.status, response.body) == (200, b"first")
    assert resolver.calls == 1
    assert (allowed.connections, forbidden.connections) == (1, 0)


async def test_dns_rebinding_on_a_later_connection_is_denied_before_connecting(allowed, forbidden):
    allowed.replies["/"] = Reply(body=b"first")
    resolver = RebindingResolver(ALLOWED, FORBIDDEN)
    async with GuardedClient(POLICY, resolver=resolver) as client:
        await client.get(f"http://rebind.test:{allowed.port}/")
        with pytest.raises(EgressDenied, match="loopback"):
            await client.get(f"http://rebind.test:{allowed.port}/")
    assert resolver.calls == 2
    assert forbidden.connections == 0


async def test_name_with_one_forbidden_answer_among_allowed_ones_is_denied(allowed, forbidden):
    resolver = FixedResolver({"split.test": [ALLOWED, FORBIDDEN]})
    async with GuardedClient(POLICY, resolver=resolver) as client:
        with pytest.raises(EgressDenied):
            await client.get(f"http://split.test:{allowed.port}/")
    assert (allowed.connections, forbidden.connections) == (0, 0)


FORBIDDEN_LOCATIONS = {
    "literal": "http://127.0.0.3:{port}/",
    "ipv4-mapped": "http://[::ffff:127.0.0.3]:{port}/",
    "name-resolving-to-forbidden": "http://forbidden.test:{port}/",
    "decimal": "http://2130706435:{port}/",
    "hex-octet": "http://0x7f.0.0.3:{port}/",
    "short-form": "http://127.3:{port}/",
    "scheme-relative": "//127.0.0.3:{port}/",
    "userinfo": "http://allowed.test@127.0.0.3:{port}/",
    "backslash": "http://127.0.0.3:{port}\\@127.0.0.2:{port}/",
    "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "gopher": "gopher://127.0.0.3:{port}/_GET",
    "file": "file:///etc/passwd",
}


@pytest.mark.parametrize("form", FORBIDDEN_LOCATIONS)
async def test_redirect_to_forbidden_target_reaches_nothing(allowed, forbidden, form):
    location = FORBIDDEN_LOCATIONS[form].format(port=allowed.port)
    allowed.replies["/"] = Reply(302, {"location": location})
    resolver = FixedResolver({"forbidden.test": [FORBIDDEN]})
    async with GuardedClient(POLICY, resolver=resolver) as client:
        with pytest.raises(EgressDenied):
            await client.get(allowed.url("/"))
    assert len(allowed.requests) == 1
    assert forbidden.connections == 0


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_status_to_forbidden_target_is_denied(allowed, forbidden, status):
    allowed.replies["/"] = Reply(status, {"location": forbidden.url("/")})
    async with GuardedClient(POLICY) as client:
        with pytest.raises(EgressDenied):
            await client.request("POST", allowed.url("/"), body=b"x")
    assert forbidden.connections == 0


async def test_redirect_chain_through_allowed_hops_then_forbidden_is_denied(
    allowed, forbidden, other
):
    allowed.replies["/a"] = Reply(302, {"location": "/b"})
    allowed.replies["/b"] = Reply(307, {"location": other.url("/c")})
    other.replies["/c"] = Reply(308, {"location": forbidden.url("/d")})
    async with GuardedClient(POLICY) as client:
        with pytest.raises(EgressDenied):
            await client.get(allowed.url("/a"))
    assert [r.path for r in allowed.requests + other.requests] == ["/a", "/b", "/c"]
    assert forbidden.connections == 0


async def test_redirect_loop_stops_at_the_hop_limit(allowed):
    allowed.replies["/loop"] = Reply(302, {"location": "/loop"})
    client = GuardedClient(POLICY, limits=FetchLimits(max_redirects=3))
    with pytest.raises(EgressFailed, match="too many redirects"):
        await client.get(allowed.url("/loop"))
    await client.aclose()
    assert len(allowed.requests) == 4


CREDENTIALS = {"Authorization": "Bearer abc123", "Cookie": "sid=1", "X-Api-Key": "k"}


async def test_redirect_to_another_origin_drops_credentials(allowed, other):
    allowed.replies["/"] = Reply(302, {"location": other.url("/landing")})
    other.replies["/landing"] = Reply(body=b"ok")
    async with GuardedClient(POLICY) as client:
        await client.get(allowed.url("/"), headers={**CREDENTIALS, "X-Trace": "t"})
    seen = other.requests[0].headers
    assert not {"authorization", "cookie", "x-api-key"} & seen.keys()
    assert seen["x-trace"] == "t"


async def test_redirect_within_the_origin_keeps_credentials(allowed):
    allowed.replies["/"] = Reply(302, {"location": "/landing"})
    allowed.replies["/landing"] = Reply(body=b"ok")
    async with GuardedClient(POLICY) as client:
        await client.get(allowed.url("/"), headers=CREDENTIALS)
    assert allowed.requests[1].headers["authorization"] == "Bearer abc123"


async def test_credentials_stay_dropped_after_a_redirect_back_to_the_origin(allowed, other):
    allowed.replies["/"] = Reply(302, {"location": other.url("/bounce")})
    other.replies["/bounce"] = Reply(302, {"location": allowed.url("/final")})
    allowed.replies["/final"] = Reply(body=b"ok")
    async with GuardedClient(POLICY) as client:
        await client.get(allowed.url("/"), headers=CREDENTIALS)
    assert "authorization" not in allowed.requests[1].headers


async def test_httpx_client_over_guarded_transport_checks_every_redirect_hop(allowed, forbidden):
    allowed.replies["/"] = Reply(302, {"location": forbidden.url("/")})
    transport = GuardedTransport(POLICY)
    async with httpx.AsyncClient(
        transport=transport, follow_redirects=True, trust_env=False
    ) as client:
        with pytest.raises(EgressDenied):
            await client.get(allowed.url("/"))
    assert forbidden.connections == 0


async def test_proxy_variables_cannot_route_around_the_guard(allowed, forbidden, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, forbidden.url("/"))
    allowed.replies["/"] = Reply(body=b"direct")
    async with GuardedClient(POLICY) as client:
        response = await client.get(allowed.url("/"))
    assert response.body == b"direct"
    assert forbidden.connections == 0


async def test_policy_only_client_refuses_redirect_to_forbidden_literal(allowed, forbidden):
    # The Workers variant over a real non-redirecting transport (as js.fetch with
    # redirect: "manual" would be): the redirect target is checked before it is fetched.
    allowed.replies["/"] = Reply(302, {"location": forbidden.url("/")})
    transport = HttpxTransport()
    client = PolicyOnlyClient(transport, POLICY)
    with pytest.raises(EgressDenied):
        await client.get(allowed.url("/"))
    await transport.aclose()
    assert len(allowed.requests) == 1
    assert forbidden.connections == 0


RESOLVED_NAMES = [
    "metadata.test",
    "169.254.169.254.nip.io",
    "private.test",
    "10.0.0.1.nip.io",
    "loopback.test",
    "127.0.0.1.nip.io",
    "mapped.test",
    "ula.test",
    "mixed.test",
]


@pytest.fixture
async def catch_all():
    servers = [Upstream.catch_all(port) for port in (80, 443, 6379, 11211)]
    for server in servers:
        await server.start()
    yield servers
    for server in servers:
        await server.stop()


@pytest.mark.parametrize("name", RESOLVED_NAMES)
async def test_name_resolving_to_forbidden_address_is_denied(catch_all, name):
    async with GuardedClient(POLICY, resolver=SystemResolver()) as client:
        with pytest.raises(EgressDenied):
            await client.get(f"http://{name}/")
    assert sum(s.connections for s in catch_all) == 0


async def test_fetch_route_refuses_every_corpus_url_without_connecting(catch_all):
    app = create_app({"DALOY_EGRESS_ALLOW_CIDRS": f"{ALLOWED}/32"})
    client = TestClient(app)
    urls = [url for _, url, _ in CORPUS] + [f"http://{name}/" for name in RESOLVED_NAMES]
    for url in urls:
        response = await client.arequest("GET", "/fetch", params={"url": url})
        assert response.status in (400, 403), url
        if response.status == 403:
            assert response.json()["type"].endswith("egress-denied"), url
    assert sum(s.connections for s in catch_all) == 0


async def test_catch_all_listener_counts_a_connection_the_policy_permits(catch_all):
    # Positive control for the zero-connection assertions above.
    everything_local = EgressPolicy(allow_hosts=("loopback.test",), allow_cidrs=("127.0.0.1/32",))
    async with GuardedClient(everything_local, resolver=SystemResolver()) as client:
        response = await client.get("http://loopback.test/")
    assert response.status == 404
    assert sum(s.connections for s in catch_all) == 1
