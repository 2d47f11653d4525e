"""The Upstash store inside Pyodide, over fetch, against the shim and a real redis-server.

The last test serves the reference Worker with ``DALOY_RATE_LIMIT_URL``/``_TOKEN`` set:
its store is built without a transport, so it must pick ``default_transport()``, which
the Workers adapter sets to ``FetchTransport``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.workers import HELD_REQUEST_CONTEXTS, PyodideHarness, WorkersClient

pytestmark = pytest.mark.slow

redis_server = pytest.importorskip(
    "tests.support.redis_server", reason="needs the rate-limit layer's redis + Upstash shim"
)


@pytest.fixture(scope="module")
def shim() -> Iterator[Any]:
    with redis_server.redis_and_shim() as (_, shim):
        yield shim


def run_in_worker(harness: PyodideHarness, shim: Any, body: str) -> Any:
    return harness.run(
        f"""
from daloy_edge.ratelimit import RateLimiter, UpstashNonceStore, UpstashREST, UpstashStore
from daloy_edge_cloudflare import FetchTransport

REST = UpstashREST({shim.url!r}, {shim.token!r}, transport=FetchTransport(), timeout=5)

async def main():
{body}
"""
    )


def test_limiter_counts_in_redis_through_fetch(workers_harness: PyodideHarness, shim: Any) -> None:
    shim.reset()
    allowed = run_in_worker(
        workers_harness,
        shim,
        """
    limiter = RateLimiter(limit=3, window=60, store=UpstashStore(REST, timeout=5), name="pyodide")
    return [(await limiter.check("203.0.113.5")).allowed for _ in range(4)]
""",
    )
    assert allowed == [True, True, True, False]
    assert shim.requests() >= 4


def test_nonce_store_refuses_a_replay_through_fetch(
    workers_harness: PyodideHarness, shim: Any
) -> None:
    added = run_in_worker(
        workers_harness,
        shim,
        """
    store = UpstashNonceStore(REST, timeout=5)
    first = await store.add_if_absent("delivery-1", 300)
    return [first, await store.add_if_absent("delivery-1", 300)]
""",
    )
    assert added == [True, False]


def test_wrong_token_is_refused_by_the_shim(workers_harness: PyodideHarness, shim: Any) -> None:
    error = workers_harness.run(
        f"""
from daloy_edge.ratelimit import UpstashError, UpstashREST
from daloy_edge_cloudflare import FetchTransport

async def main():
    rest = UpstashREST({shim.url!r}, "wrong-token", transport=FetchTransport())
    try:
        await rest.execute(["PING"])
    except UpstashError as exc:
        return str(exc)
"""
    )
    assert error == "Unauthorized"


def test_reference_worker_rate_limits_on_upstash_through_fetch(
    workers_harness: PyodideHarness, shim: Any
) -> None:
    env = {"DALOY_RATE_LIMIT_URL": shim.url, "DALOY_RATE_LIMIT_TOKEN": shim.token}
    client = WorkersClient(workers_harness, env=env, isolate="upstash", client_ip="198.51.100.20")
    # The limit counts per calendar minute: six requests that cross into the next minute
    # (each takes a while in Pyodide on a loaded machine) start a fresh count, as the
    # contract says. Sent again in a minute of their own then.
    for _ in range(3):
        shim.reset()
        minute = time.time() // 60
        statuses = [client.request("GET", "/limited").status for _ in range(6)]
        if time.time() // 60 == minute:
            break
    assert statuses == [200] * 5 + [429]
    assert shim.requests() >= 6


def test_a_rate_limit_check_leaves_no_timer_holding_the_requests_context(
    workers_harness: PyodideHarness, shim: Any
) -> None:
    # The store's check and the fetch under it were each bounded by asyncio.timeout, whose
    # timer took a copy of the request's context; Pyodide's loop keeps a cancelled timer
    # until its time, so every answered /limited request left three holding its log
    # record (and any context variable the app set) for 1 to 5 s more.
    env = {"DALOY_RATE_LIMIT_URL": shim.url, "DALOY_RATE_LIMIT_TOKEN": shim.token}
    client = WorkersClient(
        workers_harness, env=env, isolate="upstash-held", client_ip="198.51.100.21"
    )
    shim.reset()
    for number in range(8):
        probe = f"held-probe-{number}"
        answer = client.request("GET", "/limited", headers={"x-request-id": probe})
        assert answer.status in (200, 429)
        assert ("x-request-id", probe) in answer.headers
    assert workers_harness.run(HELD_REQUEST_CONTEXTS) == 0
