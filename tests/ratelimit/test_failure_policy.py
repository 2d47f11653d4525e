"""Redis frozen, stopped or unreachable: fail open or closed as configured, within the
timeout, and say so in the log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from daloy_edge import App
from daloy_edge.middleware.ratelimit import RateLimit, RateLimitConfig
from daloy_edge.ratelimit import (
    FailurePolicy,
    RateLimiter,
    StoreUnavailable,
    UpstashREST,
    UpstashStore,
)
from daloy_edge.testing import TestClient
from daloy_edge.transport import HttpxTransport
from tests.support.redis_server import RedisServer, ShimServer, free_port, redis_and_shim

TIMEOUT = 0.3
# Scheduling slack on a shared, loaded machine; the bound is still far below the
# seconds a hung connection would otherwise take.
SLACK = 0.7


@pytest.fixture(scope="module")
def own_stack() -> Iterator[tuple[RedisServer, ShimServer]]:
    with redis_and_shim() as stack:
        yield stack


@pytest.fixture
async def frozen_store(own_stack: tuple[RedisServer, ShimServer]) -> AsyncIterator[UpstashStore]:
    """A warmed-up store whose Redis is then frozen (accepts, never answers)."""
    server, shim = own_stack
    transport = HttpxTransport()
    rest = UpstashREST(shim.url, shim.token, transport=transport)
    store = UpstashStore(rest, timeout=TIMEOUT, first_timeout=TIMEOUT)
    warm = UpstashStore(UpstashREST(shim.url, shim.token, transport=transport), timeout=10)
    await RateLimiter(limit=5, window=60, store=warm).check("warm-up")
    server.pause()
    try:
        yield store
    finally:
        server.resume()
        await transport.aclose()


async def test_fail_open_admits_within_the_timeout_when_redis_hangs(frozen_store: UpstashStore):
    limiter = RateLimiter(limit=5, window=60, store=frozen_store, on_store_error="fail_open")
    start = time.monotonic()
    decision = await limiter.check("client")
    elapsed = time.monotonic() - start
    assert decision.allowed and decision.degraded
    assert TIMEOUT <= elapsed < TIMEOUT + SLACK


async def test_fail_closed_raises_within_the_timeout_when_redis_hangs(frozen_store: UpstashStore):
    limiter = RateLimiter(limit=5, window=60, store=frozen_store, on_store_error="fail_closed")
    start = time.monotonic()
    with pytest.raises(StoreUnavailable, match="no answer within"):
        await limiter.check("client")
    assert time.monotonic() - start < TIMEOUT + SLACK


async def test_fail_closed_route_answers_503_problem_when_redis_hangs(frozen_store: UpstashStore):
    app = App()
    limit = RateLimit(RateLimitConfig(limit=5, window=60, store=frozen_store))

    @app.get("/limited", middleware=[limit])
    async def limited(request):
        return {"ok": True}

    start = time.monotonic()
    response = await TestClient(app).arequest("GET", "/limited")
    assert time.monotonic() - start < TIMEOUT + SLACK
    assert response.status == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "urn:daloy-edge:problem:rate-limit-unavailable"


async def test_fail_open_route_serves_without_a_ratelimit_state_when_redis_hangs(
    frozen_store: UpstashStore,
):
    app = App()
    config = RateLimitConfig(limit=5, window=60, store=frozen_store, on_store_error="fail_open")

    @app.get("/limited", middleware=[RateLimit(config)])
    async def limited(request):
        return {"ok": True}

    response = await TestClient(app).arequest("GET", "/limited")
    assert response.status == 200
    assert response.headers["ratelimit-policy"] == '"default";q=5;w=60'
    assert "ratelimit" not in response.headers


@pytest.mark.parametrize(
    ("policy", "message"), [("fail_open", "failing open"), ("fail_closed", "failing closed")]
)
async def test_store_failure_is_logged_under_either_policy(
    frozen_store: UpstashStore,
    caplog: pytest.LogCaptureFixture,
    policy: FailurePolicy,
    message: str,
):
    limiter = RateLimiter(limit=5, window=60, store=frozen_store, on_store_error=policy)
    with (
        caplog.at_level(logging.WARNING, logger="daloy_edge.ratelimit"),
        contextlib.suppress(StoreUnavailable),
    ):
        await limiter.check("203.0.113.9")
    assert message in caplog.text
    assert "203.0.113.9" not in caplog.text


async def test_only_the_first_call_gets_the_longer_first_timeout(
    own_stack: tuple[RedisServer, ShimServer], frozen_store: UpstashStore
):
    _, shim = own_stack
    transport = HttpxTransport()
    rest = UpstashREST(shim.url, shim.token, transport=transport)
    limiter = RateLimiter(
        limit=5, window=60, store=UpstashStore(rest, timeout=0.2, first_timeout=0.8)
    )
    waits = []
    for _ in range(2):
        start = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await limiter.check("client")
        waits.append(time.monotonic() - start)
    await transport.aclose()
    assert 0.8 <= waits[0] < 0.8 + SLACK
    assert 0.2 <= waits[1] < 0.2 + SLACK


class Held:
    """An Upstash client whose every check waits until the test lets Redis answer."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()

    async def execute(self, command: list[str]) -> object:
        await self.answer.wait()
        return [1, 4, 60_000, 0]


async def test_a_burst_on_a_cold_instance_gets_the_first_timeout_for_every_check():
    # The burst that wakes an instance pays its cold start alike (no connection is
    # pooled yet, each check opens one): only the first check got the longer budget,
    # and the rest failed closed with 503s while Redis was answering.
    held = Held()
    limiter = RateLimiter(
        limit=5, window=60, store=UpstashStore(held, timeout=0.001, first_timeout=60)
    )
    checks = [asyncio.ensure_future(limiter.check(f"client-{i}")) for i in range(3)]
    await asyncio.sleep(0.05)  # the short budget has run out; the first one has not
    held.answer.set()
    decisions = await asyncio.gather(*checks)
    assert [d.allowed and not d.degraded for d in decisions] == [True, True, True]


async def test_fail_closed_at_once_when_redis_is_stopped():
    with redis_and_shim() as (server, shim):
        transport = HttpxTransport()
        store = UpstashStore(UpstashREST(shim.url, shim.token, transport=transport), timeout=5)
        await RateLimiter(limit=5, window=60, store=store).check("warm-up")
        server.stop()
        limiter = RateLimiter(limit=5, window=60, store=store)
        start = time.monotonic()
        with pytest.raises(StoreUnavailable, match="redis is unavailable"):
            await limiter.check("client")
        assert time.monotonic() - start < 2.5  # an error reply, not the 5 s timeout
        await transport.aclose()


async def test_fail_open_when_the_endpoint_refuses_connections():
    transport = HttpxTransport()
    rest = UpstashREST(f"http://127.0.0.1:{free_port()}", "token", transport=transport)
    limiter = RateLimiter(
        limit=5, window=60, store=UpstashStore(rest, timeout=5), on_store_error="fail_open"
    )
    decision = await limiter.check("client")
    assert decision.allowed and decision.degraded
    await transport.aclose()


class Down:
    async def check(self, algorithm, keys, now_ms, quota):  # type: ignore[no-untyped-def]
        raise StoreUnavailable("connection refused")


async def test_a_store_outage_is_still_logged_after_the_clock_stepped_back(
    caplog: pytest.LogCaptureFixture,
):
    # At most one warning per 10 s, measured on the limiter's wall clock: once NTP had
    # stepped it back an hour, an outage failing open went unlogged for that hour.
    now = [1_700_000_000.0]
    limiter = RateLimiter(
        limit=5, window=60, store=Down(), on_store_error="fail_open", clock=lambda: now[0]
    )
    with caplog.at_level(logging.WARNING, logger="daloy_edge.ratelimit"):
        await limiter.check("client")
        caplog.clear()
        now[0] -= 3600
        await limiter.check("client")
    assert "failing open" in caplog.text


def store_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "daloy_edge.ratelimit"]


@contextlib.asynccontextmanager
async def clocked_limiter(
    shim: ShimServer, **store_options: float
) -> AsyncIterator[tuple[RateLimiter, list[float]]]:
    """A fail-open limiter on the shim whose clock the test moves (``now[0]``)."""
    now = [1_700_000_000.0]
    transport = HttpxTransport()
    store = UpstashStore(UpstashREST(shim.url, shim.token, transport=transport), **store_options)
    try:
        yield (
            RateLimiter(
                limit=100, window=60, store=store, on_store_error="fail_open", clock=lambda: now[0]
            ),
            now,
        )
    finally:
        await transport.aclose()


async def three_failed_checks(server: RedisServer, limiter: RateLimiter, now: list[float]) -> None:
    """Redis paused for three checks 2 s apart, then resumed."""
    server.pause()
    try:
        for _ in range(3):
            assert (await limiter.check("client")).degraded
            now[0] += 2
    finally:
        server.resume()


async def test_the_end_of_a_store_outage_is_logged_with_the_checks_it_failed(
    own_stack: tuple[RedisServer, ShimServer], caplog: pytest.LogCaptureFixture
):
    # The warnings stopped with the outage and nothing said it was over: the failures
    # after the last warning (up to 10 s of them) were never counted anywhere.
    server, shim = own_stack
    async with clocked_limiter(shim, timeout=TIMEOUT, first_timeout=5) as (limiter, now):
        with caplog.at_level(logging.WARNING, logger="daloy_edge.ratelimit"):
            assert not (await limiter.check("client")).degraded
            await three_failed_checks(server, limiter, now)
            now[0] += 10
            for _ in range(2):
                assert not (await limiter.check("client")).degraded
    assert store_lines(caplog) == [
        "rate-limit store unavailable (no answer within 0.3s); policy 'default' is failing open"
        " (1 failures since last log)",
        "rate-limit store answering again; policy 'default' failed 3 checks over 16 s",
    ]


async def test_a_store_failing_every_other_check_logs_once_per_ten_seconds(
    own_stack: tuple[RedisServer, ShimServer], caplog: pytest.LogCaptureFixture
):
    # Log flooding: a store failing every other check (a flaky proxy in front of it) must
    # not write a warning and an "answering again" line per failure, at the request rate.
    _, shim = own_stack
    async with clocked_limiter(shim, timeout=5) as (limiter, now):
        with caplog.at_level(logging.WARNING, logger="daloy_edge.ratelimit"):
            for _ in range(10):
                shim.fail_next(502, "<html>Bad Gateway</html>", content_type="text/html")
                assert (await limiter.check("client")).degraded
                assert not (await limiter.check("client")).degraded
                now[0] += 1
    assert len(store_lines(caplog)) == 1


async def test_a_store_outage_is_told_as_long_as_it_lasted_not_until_the_next_check(
    own_stack: tuple[RedisServer, ShimServer], caplog: pytest.LogCaptureFixture
):
    # The store answered again 5 s into the outage, within 10 s of its warning, so the
    # line waited for the next check: an hour later on a quiet policy, and the 5 s outage
    # was told as "failed 3 checks over 3605 s".
    server, shim = own_stack
    async with clocked_limiter(shim, timeout=TIMEOUT, first_timeout=5) as (limiter, now):
        with caplog.at_level(logging.WARNING, logger="daloy_edge.ratelimit"):
            assert not (await limiter.check("client")).degraded
            await three_failed_checks(server, limiter, now)
            now[0] -= 1
            assert not (await limiter.check("client")).degraded  # 5 s after the first failure
            now[0] += 3600
            assert not (await limiter.check("client")).degraded
    assert store_lines(caplog)[1:] == [
        "rate-limit store answering again; policy 'default' failed 3 checks over 5 s"
    ]
