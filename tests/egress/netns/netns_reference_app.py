"""``GET /fetch`` of the reference app against real upstreams.

Runs only inside a fresh network namespace; reported through ``test_egress_netns.py``.
"""

from __future__ import annotations

from tests import netns

netns.assert_isolated()

import pytest  # noqa: E402

from daloy_edge.testing import TestClient  # noqa: E402
from examples.secure_app import create_app  # noqa: E402
from tests.upstream import Reply, Upstream  # noqa: E402

ALLOWED, FORBIDDEN = "127.0.0.2", "127.0.0.3"


@pytest.fixture
async def upstream():
    async with Upstream(ALLOWED) as server:
        yield server


@pytest.fixture
async def forbidden(upstream):
    async with Upstream(FORBIDDEN, port=upstream.port) as server:
        yield server


def client(**env: str) -> TestClient:
    return TestClient(create_app({"DALOY_EGRESS_ALLOW_CIDRS": f"{ALLOWED}/32", **env}))


async def fetch(test_client: TestClient, url: str):
    return await test_client.arequest("GET", "/fetch", params={"url": url})


async def test_fetch_returns_upstream_status_and_byte_count(upstream):
    upstream.replies["/page"] = Reply(body=b"x" * 1234)
    response = await fetch(client(), upstream.url("/page"))
    assert (response.status, response.json()) == (200, {"status": 200, "bytes": 1234})


async def test_fetch_reports_upstream_error_status(upstream):
    response = await fetch(client(), upstream.url("/missing"))
    assert response.json() == {"status": 404, "bytes": len(b"not found")}


async def test_fetch_denies_loopback_address_not_opted_in(upstream, forbidden):
    response = await fetch(client(), forbidden.url("/"))
    assert response.status == 403
    assert response.json()["type"] == "urn:daloy-edge:problem:egress-denied"
    assert forbidden.connections == 0


async def test_fetch_denies_everything_private_without_opt_in(upstream):
    response = await fetch(TestClient(create_app({})), upstream.url("/"))
    assert response.status == 403
    assert upstream.connections == 0


async def test_fetch_reaches_name_on_the_host_allow_list(upstream):
    upstream.replies["/"] = Reply(body=b"ok")
    response = await fetch(
        client(DALOY_EGRESS_ALLOW_HOSTS="allowed.test"), f"http://allowed.test:{upstream.port}/"
    )
    assert response.json() == {"status": 200, "bytes": 2}


async def test_fetch_denies_literal_when_host_allow_list_is_set(upstream):
    response = await fetch(client(DALOY_EGRESS_ALLOW_HOSTS="allowed.test"), upstream.url("/"))
    assert response.status == 403
    assert upstream.connections == 0


async def test_fetch_denies_name_missing_from_the_host_allow_list(upstream):
    response = await fetch(
        client(DALOY_EGRESS_ALLOW_HOSTS="allowed.test"), f"http://other.test:{upstream.port}/"
    )
    assert response.status == 403


async def test_fetch_redirect_to_forbidden_address_is_403(upstream, forbidden):
    upstream.replies["/"] = Reply(302, {"location": forbidden.url("/")})
    response = await fetch(client(), upstream.url("/"))
    assert response.status == 403
    assert forbidden.connections == 0


async def test_fetch_of_unreachable_upstream_is_502(upstream):
    port = upstream.port
    await upstream.stop()
    response = await fetch(client(), f"http://{ALLOWED}:{port}/")
    assert (response.status, response.json()["type"]) == (
        502,
        "urn:daloy-edge:problem:egress-failed",
    )


async def test_fetch_of_oversize_upstream_is_502(upstream):
    upstream.replies["/"] = Reply(body=b"x" * (1024 * 1024 + 1))
    response = await fetch(client(), upstream.url("/"))
    assert response.status == 502
