"""The reference app's abuse controls, as CONTRACT.md states them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from daloy_edge import ConfigError
from daloy_edge.testing import TestClient
from examples.secure_app import create_app
from tests.support.redis_server import ROOT, RedisServer, ShimServer, redis_and_shim


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[RedisServer, ShimServer]]:
    with redis_and_shim() as s:
        yield s


def test_limited_allows_five_a_minute_per_client_ip():
    client = TestClient(create_app({}))
    for remaining in (4, 3, 2, 1, 0):
        response = client.get("/limited")
        assert response.status == 200
        assert response.json() == {"ok": True}
        assert response.headers["ratelimit-policy"] == '"default";q=5;w=60'
        assert response.headers["ratelimit"].startswith(f'"default";r={remaining};t=')


def test_sixth_request_in_a_minute_is_429_with_retry_after_and_ratelimit_fields():
    client = TestClient(create_app({}))
    for _ in range(5):
        client.get("/limited")
    response = client.get("/limited")
    assert response.status == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["ratelimit-policy"] == '"default";q=5;w=60'
    assert response.headers["ratelimit"].startswith('"default";r=0;t=')
    assert client.get("/limited", client="198.51.100.20").status == 200


def test_other_routes_carry_no_ratelimit_fields():
    response = TestClient(create_app({})).get("/health")
    assert response.status == 200
    assert "ratelimit" not in response.headers


def test_half_configured_upstash_store_is_refused():
    with pytest.raises(ConfigError, match="DALOY_RATE_LIMIT_TOKEN"):
        create_app({"DALOY_RATE_LIMIT_URL": "https://eu1-example.upstash.io"})


def test_upstash_token_with_a_trailing_newline_is_refused_at_build():
    env = {
        "DALOY_RATE_LIMIT_URL": "https://eu1-example.upstash.io",
        "DALOY_RATE_LIMIT_TOKEN": "token-from-a-secret-file\n",
    }
    with pytest.raises(ConfigError, match="Upstash token"):
        create_app(env)


async def test_instances_configured_with_upstash_share_one_quota(
    stack: tuple[RedisServer, ShimServer],
):
    server, shim = stack
    server.client().flushall()
    env = {"DALOY_RATE_LIMIT_URL": shim.url, "DALOY_RATE_LIMIT_TOKEN": shim.token}
    first, second = TestClient(create_app(env)), TestClient(create_app(env))
    statuses = []
    for i in range(6):
        client = first if i % 2 == 0 else second
        statuses.append((await client.arequest("GET", "/limited")).status)
    assert statuses == [200, 200, 200, 200, 200, 429]
    assert shim.requests() >= 6


async def test_webhook_replay_is_refused_across_instances_sharing_upstash(
    stack: tuple[RedisServer, ShimServer],
):
    import hashlib
    import hmac
    import time

    server, shim = stack
    server.client().flushall()
    secret = "shared-webhook-secret-0123456789"
    env = {
        "DALOY_RATE_LIMIT_URL": shim.url,
        "DALOY_RATE_LIMIT_TOKEN": shim.token,
        "DALOY_WEBHOOK_SECRETS": secret,
    }
    body = b'{"event":"paid"}'
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-signature": f"t={t},v1={mac}"}
    first, second = TestClient(create_app(env)), TestClient(create_app(env))
    accepted = await first.arequest("POST", "/webhooks/ingest", content=body, headers=headers)
    replayed = await second.arequest("POST", "/webhooks/ingest", content=body, headers=headers)
    assert (accepted.status, replayed.status) == (200, 401)
    assert any(k.startswith(b"daloy:nonce:") for k in server.client().scan_iter("daloy:nonce:*"))


def test_building_the_app_with_upstash_configured_imports_no_http_client():
    code = (
        "import sys; import examples.secure_app; examples.secure_app.app; "
        "assert 'httpx' not in sys.modules, 'httpx imported at build time'"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DALOY_RATE_LIMIT_URL": "https://eu1-example.upstash.io",
        "DALOY_RATE_LIMIT_TOKEN": "token",
    }
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
