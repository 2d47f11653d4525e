"""Replies the real Upstash service gives and a local Redis never would: its daily request
limit (HTTP 400 with an ``ERR`` text), a 429, a 5xx with or without a JSON error, a proxy's
HTML page. Through the toolkit's client and the official one, a rate-limited route follows
its failure policy and a webhook is refused with 503 for its sender to retry, never a 500."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator

import pytest
from upstash_redis.asyncio import Redis as UpstashClient

from daloy_edge import App, KeyRing
from daloy_edge.middleware.ratelimit import RateLimit, RateLimitConfig
from daloy_edge.middleware.webhooks import VerifyWebhook, WebhookConfig
from daloy_edge.ratelimit import (
    FIXED_WINDOW,
    GCRA,
    SLIDING_WINDOW,
    Quota,
    UpstashCommands,
    UpstashNonceStore,
    UpstashREST,
    UpstashStore,
)
from daloy_edge.testing import TestClient
from daloy_edge.transport import HttpxTransport
from tests.support.redis_server import RedisServer, ShimServer

SECRET = "webhook-secret-0123456789abcdef"
NOW = 1_700_000_000
BODY = b'{"event":"paid"}'

DAILY_LIMIT = '{"error":"ERR max daily request limit exceeded. Limit: 10000, Usage: 10000."}'

REPLIES = [
    pytest.param(400, DAILY_LIMIT, "application/json", id="400-daily-request-limit"),
    pytest.param(429, "Too Many Requests", "text/plain", id="429-text"),
    pytest.param(500, '{"error":"ERR internal error"}', "application/json", id="500-json"),
    pytest.param(502, "<html><body>Bad Gateway</body></html>", "text/html", id="502-html"),
    pytest.param(503, "", "text/plain", id="503-empty"),
]


@pytest.fixture(params=["toolkit", "upstash-redis"])
async def commands(request: pytest.FixtureRequest, shim: ShimServer) -> AsyncIterator[object]:
    if request.param == "toolkit":
        transport = HttpxTransport()
        yield UpstashREST(shim.url, shim.token, transport=transport)
        await transport.aclose()
    else:
        client = UpstashClient(shim.url, shim.token, rest_retries=0)
        yield client
        await client.close()


def limited_app(commands: UpstashCommands, policy: str) -> App:
    app = App()
    store = UpstashStore(commands, timeout=10, first_timeout=10)
    config = RateLimitConfig(limit=5, window=60, store=store, on_store_error=policy)

    @app.get("/limited", middleware=[RateLimit(config)])
    async def limited(request):
        return {"ok": True}

    return app


@pytest.mark.parametrize(("status", "body", "content_type"), REPLIES)
async def test_fail_closed_route_answers_503_when_upstash_refuses_the_check(
    commands: UpstashCommands, shim: ShimServer, status: int, body: str, content_type: str
):
    client = TestClient(limited_app(commands, "fail_closed"))
    shim.fail_next(status, body, content_type=content_type)
    refused = await client.arequest("GET", "/limited")
    assert refused.status == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["type"] == "urn:daloy-edge:problem:rate-limit-unavailable"
    counted = await client.arequest("GET", "/limited")
    assert counted.status == 200
    assert counted.headers["ratelimit"].startswith('"default";r=4;')


@pytest.mark.parametrize(("status", "body", "content_type"), REPLIES)
async def test_fail_open_route_serves_uncounted_when_upstash_refuses_the_check(
    commands: UpstashCommands, shim: ShimServer, status: int, body: str, content_type: str
):
    client = TestClient(limited_app(commands, "fail_open"))
    shim.fail_next(status, body, content_type=content_type)
    served = await client.arequest("GET", "/limited")
    assert served.status == 200
    assert "ratelimit" not in served.headers


def signed_headers() -> dict[str, str]:
    mac = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-signature": f"t={NOW},v1={mac}"}


@pytest.mark.parametrize(("status", "body", "content_type"), REPLIES)
async def test_webhook_is_refused_with_503_when_upstash_refuses_the_replay_record(
    commands: UpstashCommands, shim: ShimServer, status: int, body: str, content_type: str
):
    app = App()
    store = UpstashNonceStore(commands, timeout=10, first_timeout=10)
    config = WebhookConfig(secrets=KeyRing([SECRET]), clock=lambda: NOW, store=store)

    @app.post("/hook", middleware=[VerifyWebhook(config)])
    async def hook(request):
        return {"received": True}

    client = TestClient(app)
    # The SET NX and the cleanup's DEL after it are both refused.
    shim.fail_next(status, body, content_type=content_type, times=2)
    refused = await client.arequest("POST", "/hook", content=BODY, headers=signed_headers())
    assert refused.status == 503
    assert refused.headers["retry-after"] == "5"
    retried = await client.arequest("POST", "/hook", content=BODY, headers=signed_headers())
    assert retried.status == 200
    replayed = await client.arequest("POST", "/hook", content=BODY, headers=signed_headers())
    assert replayed.status == 401


async def test_every_command_the_stores_send_runs_on_the_primary_not_a_lagging_replica(
    rest: UpstashREST, shim: ShimServer, redis_server: RedisServer
):
    # Upstash may answer a read from a replica behind the primary, and the stores send no
    # Upstash-Sync-Token: they must only write or run scripts, which run on the primary
    # (EVAL_RO, EVALSHA_RO and plain reads may be served by a replica).
    store = UpstashStore(rest, timeout=10)
    for algorithm in (FIXED_WINDOW, SLIDING_WINDOW, GCRA):
        keys = algorithm.keys("client", NOW * 1000, 60_000)
        await store.check(algorithm, keys, NOW * 1000, Quota(5, 60_000))
    redis_server.client().script_flush()
    await store.check(GCRA, ("client",), NOW * 1000, Quota(5, 60_000))
    nonces = UpstashNonceStore(rest, timeout=10)
    assert await nonces.add_if_absent("delivery", 300) is True
    await nonces.discard("delivery")
    assert await UpstashNonceStore(rest, timeout=10).add_if_absent("other", 300) is True
    assert await nonces.add_if_absent("other", 300) is False
    await UpstashNonceStore(rest, timeout=10).discard("third")
    assert set(shim.stats()["commands"]) == {"EVALSHA", "EVAL", "SET", "DEL"}  # type: ignore[arg-type]
