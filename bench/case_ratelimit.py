"""Rate limiting: checks per second (memory store; Upstash REST shim over a real
redis-server) and the p50 latency the middleware adds per request (target < 15 µs)."""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import time

from bench._timing import Row, reps
from daloy_edge import App, Headers, Request
from daloy_edge.middleware.ratelimit import RateLimit, RateLimitConfig
from daloy_edge.ratelimit import MemoryStore, RateLimiter, UpstashREST, UpstashStore
from daloy_edge.transport import HttpxTransport

BIG = {"limit": 1_000_000, "window": 3600}  # never denies during a run


def _per_second(us: float) -> str:
    return f"{1e6 / us:,.0f} checks/s"


def _memory_check() -> Row:
    number, repeat = reps(5_000, 1_000), reps(9, 3)
    limiter = RateLimiter(**BIG, store=MemoryStore())  # type: ignore[arg-type]

    async def batch() -> float:
        start = time.perf_counter()
        for _ in range(number):
            await limiter.check("192.0.2.1")
        return (time.perf_counter() - start) / number * 1e6

    async def measure() -> float:
        await batch()
        return statistics.median([await batch() for _ in range(repeat)])

    # One event loop for the whole run: a loop round trip per check would dwarf it.
    us = asyncio.run(measure())
    return Row("check", f"memory store ({_per_second(us)})", us)


def _app(with_limit: bool) -> App:
    app = App(request_log=False)  # the logger's price is measured in case_observability
    middleware = [RateLimit(RateLimitConfig(**BIG))] if with_limit else []  # type: ignore[arg-type]

    @app.get("/limited", middleware=middleware)
    async def limited(request: Request) -> dict[str, bool]:
        return {"ok": True}

    return app


async def _p50_us(app: App, n: int) -> float:
    samples = []
    for _ in range(n):
        request = Request(
            "GET", "/limited", headers=Headers([("host", "bench")]), client="192.0.2.1"
        )
        start = time.perf_counter()
        await app.handle(request)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def _middleware_rows() -> list[Row]:
    n = reps(20_000, 4_000)
    bare, limited = _app(False), _app(True)

    async def measure() -> tuple[float, float]:
        await _p50_us(bare, 500)
        await _p50_us(limited, 500)
        # Interleaved rounds, each side's best p50: other load on a shared machine only
        # ever adds time, so the quietest round is the closest to the code's own cost.
        bare_runs, limited_runs = [], []
        for _ in range(10):
            bare_runs.append(await _p50_us(bare, n // 10))
            limited_runs.append(await _p50_us(limited, n // 10))
        return min(bare_runs), min(limited_runs)

    bare_us, limited_us = asyncio.run(measure())
    return [
        Row("middleware p50", "route without rate limit", bare_us),
        Row("middleware p50", "route with RateLimit (memory)", limited_us, "without", None),
        Row("middleware p50", "added by RateLimit (target < 15)", limited_us - bare_us),
    ]


async def _shim_rows(url: str, token: str) -> list[Row]:
    transport = HttpxTransport()
    store = UpstashStore(UpstashREST(url, token, transport=transport), timeout=10)
    limiter = RateLimiter(**BIG, store=store)  # type: ignore[arg-type]
    for _ in range(50):
        await limiter.check("warm-up")
    samples = []
    for i in range(300):
        start = time.perf_counter()
        await limiter.check(f"client-{i % 10}")
        samples.append(time.perf_counter() - start)
    sequential = statistics.median(samples) * 1e6
    # Within httpx's 20 kept-alive connections, so no batch pays for new ones.
    total, concurrency = 2000, 16
    start = time.perf_counter()
    for batch in range(total // concurrency):
        await asyncio.gather(*(limiter.check(f"client-{batch}-{i}") for i in range(concurrency)))
    concurrent = (time.perf_counter() - start) / (total // concurrency * concurrency) * 1e6
    await transport.aclose()
    return [
        Row("check", f"upstash shim, one at a time ({_per_second(sequential)})", sequential),
        Row("check", f"upstash shim, 16 in flight ({_per_second(concurrent)})", concurrent),
    ]


def _through_shim() -> list[Row]:
    if shutil.which("redis-server") is None:
        print("case_ratelimit: redis-server not installed; shim rows skipped", file=sys.stderr)
        return []
    from tests.support.redis_server import redis_and_shim

    with redis_and_shim() as (_, shim):
        return asyncio.run(_shim_rows(shim.url, shim.token))


def run() -> list[Row]:
    """Every rate-limit row."""
    return [_memory_check(), *_through_shim(), *_middleware_rows()]
