"""CONTRACT.md, ``GET /limited`` (5 requests a minute per client IP, memory store) on every
transport, and load shedding (503 with ``Retry-After``) in process.

The quota is per process and per client address, and each transport presents its own
address (servers 127.0.0.1, Lambda events 198.51.100.7, Workers its cf-connecting-ip).
So every test spends a quota no other test touches: it sends from a loopback address of
its own where the transport carries one (a socket bound to it, the event's source IP,
``cf-connecting-ip``), else (ALB events, which name no client) through an app of its own.
The window is the calendar minute; a sequence that straddles one is sent again.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time

import pytest

from tests.conformance.harness.checks import assert_problem, assert_secure_headers
from tests.conformance.harness.client import Reply, Transport
from tests.conformance.harness.inprocess import ASGITransport
from tests.conformance.harness.targets import REFERENCE, Pool, transport_params

LIMIT = 5
WINDOW_S = 60
POLICY = '"default";q=5;w=60'
STATE = re.compile(r'^"default";r=(\d+);t=(\d+)$')
_ADDRESSES = itertools.count(1)


def fresh_client(http: Transport, pool: Pool) -> Transport:
    """``http`` from a client address no other test used, or with an app of its own."""
    n = next(_ADDRESSES)
    view = http.with_client(f"127.77.{n // 250}.{n % 250 + 1}")
    return view if view is not None else pool.isolated(REFERENCE, http.name)


def spend(http: Transport, pool: Pool, count: int = LIMIT + 1) -> list[Reply]:
    """``count`` requests to /limited from a fresh client, all inside one window."""
    for _ in range(2):
        client = fresh_client(http, pool)
        window = time.time() // WINDOW_S
        replies = [client.get("/limited") for _ in range(count)]
        if time.time() // WINDOW_S == window:
            return replies
    raise AssertionError("two sequences of a few requests each straddled a minute boundary")


def remaining_and_reset(reply: Reply) -> tuple[int, int]:
    match = STATE.match(reply.headers.get("ratelimit") or "")
    assert match is not None, reply.headers.get("ratelimit")
    return int(match.group(1)), int(match.group(2))


def test_limited_answers_five_times_a_minute_then_429(
    http: Transport, transport_pool: Pool
) -> None:
    replies = spend(http, transport_pool)
    assert [r.status for r in replies] == [200] * LIMIT + [429]
    assert all(r.json() == {"ok": True} for r in replies[:LIMIT])


def test_limited_answers_carry_the_policy_and_the_remaining_quota(
    http: Transport, transport_pool: Pool
) -> None:
    replies = spend(http, transport_pool, LIMIT)
    assert [r.headers.get_all("ratelimit-policy") for r in replies] == [[POLICY]] * LIMIT
    states = [remaining_and_reset(r) for r in replies]
    assert [remaining for remaining, _ in states] == [4, 3, 2, 1, 0]
    assert all(1 <= reset <= WINDOW_S for _, reset in states)


def test_limited_answers_are_not_stored_by_a_shared_cache(
    http: Transport, transport_pool: Pool
) -> None:
    """Each answer counts one client's request and states its remaining quota: cached by
    a CDN in front (a default TTL for an answer without Cache-Control), it handed that
    quota to every client and let them through uncounted."""
    replies = spend(http, transport_pool, 2)
    assert [r.status for r in replies] == [200, 200]
    assert [r.headers.get_all("cache-control") for r in replies] == [["no-store"]] * 2


def test_limited_429_is_a_problem_with_retry_after_within_the_minute(
    http: Transport, transport_pool: Pool
) -> None:
    denied = spend(http, transport_pool)[-1]
    assert_problem(denied, 429, "rate-limited")
    assert 1 <= int(denied.headers.get("retry-after") or "0") <= WINDOW_S


def test_limited_429_carries_the_ratelimit_fields(http: Transport, transport_pool: Pool) -> None:
    denied = spend(http, transport_pool)[-1]
    assert denied.status == 429
    assert denied.headers.get("ratelimit-policy") == POLICY
    remaining, reset = remaining_and_reset(denied)
    assert remaining == 0
    assert reset == int(denied.headers.get("retry-after") or "0")


def test_limited_429_carries_the_secure_headers(http: Transport, transport_pool: Pool) -> None:
    denied = spend(http, transport_pool)[-1]
    assert denied.status == 429
    assert_secure_headers(denied)


def test_limited_counts_each_client_address_apart(http: Transport, transport_pool: Pool) -> None:
    if http.with_client("127.0.0.1") is None:
        pytest.skip(
            "ALB events name no client and the reference app does not trust X-Forwarded-For: "
            "behind an ALB every caller shares one quota"
        )
    assert spend(http, transport_pool)[-1].status == 429
    assert spend(http, transport_pool, 1)[0].status == 200


# --- load shedding ------------------------------------------------------------------------

OVERLOAD = 600
"""Concurrent requests: past the reference app's 256 running + 256 queued."""
SHED_ELSEWHERE = {
    "lambda-": "Lambda hands an instance one request at a time: concurrency beyond that is "
    "the platform's to throttle, never reaches the middleware",
    "mangum-": "Lambda hands an instance one request at a time (Mangum included)",
    "awslambdaric-": "Lambda hands an instance one request at a time (the runtime loop too)",
    "uvicorn": "would need 600 parallel connections to a child server; the ASGI case drives "
    "the same middleware in the same app",
    "functions-framework": "one request per worker thread; the ASGI case drives the same "
    "middleware in the same app",
    "workers": "the Pyodide harness serves one request at a time, so no overload can build",
}


def overloaded_app(pool: Pool) -> ASGITransport:
    # Its own app, with a deadline long enough that held slots outlast the arrivals.
    env = {**pool.env_for(REFERENCE), "DALOY_REQUEST_TIMEOUT_MS": "3000"}
    return ASGITransport(REFERENCE.build(env))


def overload(transport: ASGITransport, *targets: str) -> list[Reply]:
    host = [("Host", "conformance.example")]
    slow = [transport.asend("GET", "/slow?ms=700", host, b"") for _ in range(OVERLOAD)]
    extra = [transport.asend("GET", target, host, b"") for target in targets]

    async def together() -> list[Reply]:
        return list(await asyncio.gather(*slow, *extra))

    try:
        return transport.loop.run_until_complete(together())
    finally:
        transport.close()


def skip_unless_in_process(kind: str) -> None:
    for prefix, reason in SHED_ELSEWHERE.items():
        if kind.startswith(prefix):
            pytest.skip(reason)


@pytest.mark.parametrize("kind", transport_params())
def test_overload_is_shed_with_503_and_retry_after(kind: str, transport_pool: Pool) -> None:
    skip_unless_in_process(kind)
    replies = overload(overloaded_app(transport_pool))
    statuses = [r.status for r in replies]
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    shed = [r for r in replies if r.status == 503]
    assert shed, "600 concurrent requests were all admitted"
    for reply in shed[:5]:
        assert_problem(reply, 503, "overloaded")
        assert reply.headers.get("retry-after") == "1"
        assert_secure_headers(reply)


@pytest.mark.parametrize("kind", transport_params())
def test_health_is_answered_while_overloaded(kind: str, transport_pool: Pool) -> None:
    skip_unless_in_process(kind)
    *slow, health = overload(overloaded_app(transport_pool), "/health")
    assert any(r.status == 503 for r in slow)
    assert health.status == 200
