"""Load shedding under real concurrency on one event loop: admitted requests complete,
the excess gets 503 with Retry-After at once, queued ones wait only briefly."""

from __future__ import annotations

import asyncio
import json
import math
import sys
import threading
import time

import pytest

from daloy_edge import App, ConfigError, GatewayTimeout, Request, Response, ServiceUnavailable
from daloy_edge.middleware.shedding import LoadShedding, LoadSheddingConfig
from daloy_edge.observability import LogConfig, MemorySink, RequestLog
from daloy_edge.testing import TestClient, TestResponse
from tests.support.threads import on_loops


def slow_app(shedding: LoadShedding, *, request_timeout: float = 10.0) -> App:
    app = App(request_timeout=request_timeout)
    app.use(shedding)

    @app.get("/work")
    async def work(request):
        await asyncio.sleep(float(request.query.get("s", "0")))
        return {"done": request.query.get("n")}

    @app.get("/health")
    async def health(request):
        return {"status": "ok"}

    return app


async def timed(client: TestClient, url: str) -> tuple[TestResponse, float]:
    start = time.monotonic()
    response = await client.arequest("GET", url)
    return response, time.monotonic() - start


async def test_burst_admits_the_cap_and_sheds_the_rest_at_once():
    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=4, max_queue=0))
    with TestClient(slow_app(shedding)) as client:
        results = await asyncio.gather(*(timed(client, "/work?s=0.4") for _ in range(20)))
    admitted = [(r, t) for r, t in results if r.status == 200]
    shed = [(r, t) for r, t in results if r.status == 503]
    assert len(admitted) == 4 and len(shed) == 16
    assert all(t >= 0.4 for _, t in admitted)
    assert all(t < 0.2 for _, t in shed), "excess requests must not wait for the work"
    assert all(r.headers["retry-after"] == "1" for r, _ in shed)
    assert shed[0][0].json()["type"] == "urn:daloy-edge:problem:overloaded"
    assert shedding.active == 0


async def test_only_shed_requests_count_as_shed_in_the_metrics():
    # Shed was any 503 with Retry-After: a rate-limit store or JWKS outage (503 with
    # Retry-After: 1 or 30) read as an overload in the metrics, and scaling out was the
    # wrong answer to it.
    sink = MemorySink()
    config = LogConfig(stdout=False, metrics_sinks=[sink], env={"AWS_LAMBDA_FUNCTION_NAME": "api"})
    app = App(request_log=RequestLog(config))
    app.use(LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=0)))

    @app.get("/work")
    async def work(request):
        await asyncio.sleep(0.3)
        return {"done": True}

    @app.get("/store-down")
    async def store_down(request):
        raise ServiceUnavailable(
            "rate limiting is temporarily unavailable", headers={"retry-after": "1"}
        )

    with TestClient(app) as client:
        answers = await asyncio.gather(*(client.arequest("GET", "/work") for _ in range(3)))
        down = await client.arequest("GET", "/store-down")
    assert sorted(a.status for a in answers) == [200, 503, 503] and down.status == 503
    counted = [(doc["StatusCode"], doc["Shed"]) for doc in map(json.loads, sink.lines)]
    assert sorted(counted) == [(200, 0), (503, 0), (503, 1), (503, 1)]


async def test_queued_request_runs_when_a_slot_frees_within_its_budget():
    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=1, queue_timeout=2))
    with TestClient(slow_app(shedding)) as client:
        responses = await asyncio.gather(
            client.arequest("GET", "/work?s=0.1"), client.arequest("GET", "/work?s=0.1")
        )
    assert [r.status for r in responses] == [200, 200]


async def test_an_admitted_queued_request_leaves_no_timer_holding_its_context():
    # The queue budget's timer was armed with a copy of the request's context, and a
    # cancelled timer stays scheduled until its time (on Pyodide's loop always): every
    # request that queued kept its log record for the rest of queue_timeout once admitted.
    from daloy_edge.observability._logger import _active

    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=1, queue_timeout=10))
    loop = asyncio.get_running_loop()
    # A live timer due first: asyncio drops cancelled timers from the front of its heap.
    keeper = loop.call_later(5, lambda: None)
    with TestClient(slow_app(shedding)) as client:
        responses = await asyncio.gather(
            client.arequest("GET", "/work?s=0.1"), client.arequest("GET", "/work?s=0.1")
        )
        scheduled = loop._scheduled  # type: ignore[attr-defined]
        held = [h for h in scheduled if h._context.get(_active) is not None]
    keeper.cancel()
    assert [r.status for r in responses] == [200, 200]
    assert held == []


async def test_queued_request_is_shed_when_its_queue_budget_runs_out():
    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=1, queue_timeout=0.05))
    with TestClient(slow_app(shedding)) as client:
        (first, _), (second, waited) = await asyncio.gather(
            timed(client, "/work?s=0.5"), timed(client, "/work?s=0.5")
        )
    assert first.status == 200
    assert second.status == 503
    assert 0.05 <= waited < 0.3


async def test_queue_beyond_its_bound_is_shed_immediately():
    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=2, queue_timeout=2))
    with TestClient(slow_app(shedding)) as client:
        results = await asyncio.gather(*(timed(client, "/work?s=0.15") for _ in range(5)))
    assert sorted(r.status for r, _ in results) == [200, 200, 200, 503, 503]
    assert all(t < 0.1 for r, t in results if r.status == 503)


async def test_queue_is_served_first_come_first_served():
    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=5, queue_timeout=5))
    finished: list[str] = []
    with TestClient(slow_app(shedding)) as client:

        async def run(n: int) -> None:
            response = await client.arequest("GET", f"/work?s=0.02&n={n}")
            finished.append(response.json()["done"])

        tasks = []
        for n in range(5):
            tasks.append(asyncio.create_task(run(n)))
            await asyncio.sleep(0.001)
        await asyncio.gather(*tasks)
    assert finished == ["0", "1", "2", "3", "4"]


async def test_health_checks_are_exempt_from_shedding():
    config = LoadSheddingConfig(max_concurrent=1, max_queue=0, exempt_paths=("/health",))
    with TestClient(slow_app(LoadShedding(config))) as client:
        busy = asyncio.create_task(client.arequest("GET", "/work?s=0.3"))
        await asyncio.sleep(0.05)
        assert (await client.arequest("GET", "/work")).status == 503
        assert (await client.arequest("GET", "/health")).status == 200
        assert (await busy).status == 200


async def test_requests_cancelled_by_their_deadline_leave_no_slot_held():
    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=3, queue_timeout=5))
    with TestClient(slow_app(shedding, request_timeout=0.1)) as client:
        responses = await asyncio.gather(*(client.arequest("GET", "/work?s=1") for _ in range(4)))
        assert [r.status for r in responses] == [504, 503, 503, 503]
        assert shedding.active == 0 and shedding.queued == 0
        assert (await client.arequest("GET", "/work")).status == 200


async def test_queued_request_is_shed_before_a_deadline_shorter_than_its_queue_timeout():
    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=1, queue_timeout=2))
    with TestClient(slow_app(shedding, request_timeout=0.3)) as client:
        busy, queued = await asyncio.gather(
            client.arequest("GET", "/work?s=1"), client.arequest("GET", "/work?s=1")
        )
    assert busy.status == 504
    assert queued.status == 503 and queued.headers["retry-after"] == "1"


async def test_a_queued_request_whose_client_leaves_gives_up_its_place():
    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=1, queue_timeout=5))
    gate = asyncio.Event()

    async def held(request: Request) -> Response:
        await gate.wait()
        return Response(b"held")

    async def quick(request: Request) -> Response:
        return Response(b"quick")

    busy = asyncio.create_task(shedding(Request("GET", "/a"), held))
    await asyncio.sleep(0)
    queued = asyncio.create_task(shedding(Request("GET", "/b"), quick))
    await asyncio.sleep(0)
    assert (shedding.active, shedding.queued) == (1, 1)
    queued.cancel()  # the server cancels the task of a client that disconnected
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert (shedding.active, shedding.queued) == (1, 0)
    gate.set()
    await busy
    assert (shedding.active, shedding.queued) == (0, 0)


async def test_a_request_admitted_as_its_client_leaves_gives_its_slot_back():
    # Admitted by the release of the slot it waited for, then cancelled before it ran:
    # the slot taken for it must not stay held (with one slot, every later request waited
    # out its queue timeout and was shed).
    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=1, queue_timeout=5))
    gate = asyncio.Event()
    ran: list[str] = []

    async def held(request: Request) -> Response:
        await gate.wait()
        return Response(b"held")

    async def quick(request: Request) -> Response:
        ran.append(request.raw_path)
        return Response(b"quick")

    queued: asyncio.Task[Response] | None = None

    async def holder() -> Response:
        response = await shedding(Request("GET", "/a"), held)
        assert queued is not None
        queued.cancel()  # in the step that admitted it, before it runs
        return response

    busy = asyncio.create_task(holder())
    await asyncio.sleep(0)
    queued = asyncio.create_task(shedding(Request("GET", "/b"), quick))
    await asyncio.sleep(0)
    gate.set()
    await busy
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert (shedding.active, shedding.queued, ran) == (0, 0, [])
    assert (await shedding(Request("GET", "/c"), quick)).status == 200


def test_request_queued_on_another_worker_thread_is_woken_when_a_slot_frees():
    # GCF serves each worker thread from its own event loop, all sharing the app's
    # middleware: a slot freed on one thread for a request queued on another left that
    # request asleep until its queue timer fired, holding the slot meanwhile, and the
    # request queued behind it was shed.
    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=2, queue_timeout=2))
    client = TestClient(slow_app(shedding))
    statuses: list[int] = []

    def work() -> None:
        loop = asyncio.new_event_loop()
        try:
            statuses.append(loop.run_until_complete(client.arequest("GET", "/work?s=0.2")).status)
        finally:
            loop.close()

    threads = []
    for queued in range(3):  # one runs, then two wait in line, each on a thread of its own
        threads.append(threading.Thread(target=work))
        threads[-1].start()
        while shedding.active < 1 or shedding.queued < queued:
            time.sleep(0.001)
    for thread in threads:
        thread.join()
    assert statuses == [200, 200, 200]
    assert shedding.active == 0


async def test_adaptive_mode_lowers_the_cap_while_latency_exceeds_the_target():
    config = LoadSheddingConfig(max_concurrent=8, adaptive=True, target_latency=0.05)
    shedding = LoadShedding(config)
    with TestClient(slow_app(shedding)) as client:
        await asyncio.gather(*(client.arequest("GET", "/work?s=0.1") for _ in range(8)))
        await asyncio.gather(*(client.arequest("GET", "/work?s=0.1") for _ in range(8)))
        assert shedding.limit == 6
        for _ in range(16):
            await client.arequest("GET", "/work")
        assert shedding.limit == 7


def test_adaptive_samples_from_many_worker_threads_at_once_raise_nowhere():
    # GCF serves each worker thread from its own event loop, all sharing the app's
    # middleware: threads finishing a batch's last requests together each sorted and
    # emptied the one batch, and one then read past its end (IndexError, a 500) and
    # never gave its slot back.
    shedding = LoadShedding(LoadSheddingConfig(max_concurrent=1024, adaptive=True))

    async def call_next(request: Request) -> Response:
        return Response.json({})

    async def burst() -> None:
        for _ in range(1500):
            await shedding(Request("GET", "/work"), call_next)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # a thread switch between any two steps
    try:
        outcomes = on_loops(32, burst)
    finally:
        sys.setswitchinterval(interval)
    assert outcomes == [None] * 32
    assert shedding.active == 0


async def test_adaptive_cap_never_drops_below_min_concurrent():
    config = LoadSheddingConfig(
        max_concurrent=2, min_concurrent=2, adaptive=True, target_latency=0.001
    )
    shedding = LoadShedding(config)
    with TestClient(slow_app(shedding)) as client:
        for _ in range(32):
            await client.arequest("GET", "/work?s=0.002")
    assert shedding.limit == 2


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def adaptive_app(shedding: LoadShedding, clock: FakeClock) -> App:
    """``/work?took=s`` takes ``s`` seconds of ``clock``; ``/hang`` waits until cancelled;
    ``/boom`` fails at once."""
    app = App()
    app.use(shedding)

    @app.get("/work")
    async def work(request):
        clock.now += float(request.query.get("took", "0"))
        return {"ok": True}

    @app.get("/hang")
    async def hang(request):
        await asyncio.Event().wait()

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("the database is down")

    return app


def lowered_cap() -> tuple[LoadShedding, FakeClock]:
    """An adaptive shedder whose cap one slow batch cut from 8 to 6."""
    clock = FakeClock()
    config = LoadSheddingConfig(
        max_concurrent=8, max_queue=0, adaptive=True, target_latency=0.5, clock=clock
    )
    return LoadShedding(config), clock


async def test_fast_server_errors_do_not_raise_a_lowered_adaptive_cap():
    # A failing dependency answers 500 at once: counted as fast requests, the failures
    # raised the cap that slow work had lowered.
    shedding, clock = lowered_cap()
    with TestClient(adaptive_app(shedding, clock)) as client:
        for _ in range(16):
            await client.arequest("GET", "/work?took=1")
        assert shedding.limit == 6
        statuses = [(await client.arequest("GET", "/boom")).status for _ in range(32)]
    assert statuses == [500] * 32
    assert shedding.limit == 6


async def test_requests_abandoned_at_once_do_not_raise_a_lowered_adaptive_cap():
    # A client that sends requests and leaves at once measured no work: counted as fast
    # requests, the abandoned requests raised the cap that slow work had lowered.
    shedding, clock = lowered_cap()
    with TestClient(adaptive_app(shedding, clock)) as client:
        for _ in range(16):
            await client.arequest("GET", "/work?took=1")
        assert shedding.limit == 6
        for _ in range(6):
            tasks = [asyncio.create_task(client.arequest("GET", "/hang")) for _ in range(6)]
            while shedding.active < 6:
                await asyncio.sleep(0)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    assert shedding.active == 0
    assert shedding.limit == 6


async def test_failures_that_took_longer_than_the_target_still_lower_the_adaptive_cap():
    clock = FakeClock()
    config = LoadSheddingConfig(max_concurrent=8, adaptive=True, target_latency=0.5, clock=clock)
    shedding = LoadShedding(config)
    app = App()
    app.use(shedding)

    @app.get("/timeout")
    async def timeout(request):
        clock.now += 1
        raise GatewayTimeout("the upstream did not answer")

    with TestClient(app) as client:
        statuses = [(await client.arequest("GET", "/timeout")).status for _ in range(16)]
    assert statuses == [504] * 16
    assert shedding.limit == 6


async def test_one_slow_burst_cuts_the_adaptive_cap_once_and_it_climbs_back():
    # 64 requests slowed together by one stall (a database failover) cut the cap once
    # per 16 of them, 64 to 20, and the cap then needed 704 fast requests to recover.
    clock = FakeClock()
    config = LoadSheddingConfig(max_concurrent=64, adaptive=True, target_latency=0.5, clock=clock)
    shedding = LoadShedding(config)
    stall = asyncio.Event()
    app = adaptive_app(shedding, clock)

    @app.get("/stalled")
    async def stalled(request):
        await stall.wait()
        return {"ok": True}

    with TestClient(app) as client:
        burst = [asyncio.create_task(client.arequest("GET", "/stalled")) for _ in range(64)]
        while shedding.active < 64:
            await asyncio.sleep(0)
        clock.now += 2
        stall.set()
        assert [r.status for r in await asyncio.gather(*burst)] == [200] * 64
        assert shedding.limit == 48
        for _ in range(16 * 16):
            await client.arequest("GET", "/work")
    assert shedding.limit == 64


@pytest.mark.parametrize(
    "options",
    [
        {"max_concurrent": 0},
        {"max_queue": -1},
        {"queue_timeout": 0},
        {"queue_timeout": 60},
        {"retry_after": 0},
        {"target_latency": 0},
        {"min_concurrent": 100},
        {"exempt_paths": ("health",)},
    ],
)
def test_invalid_configuration_is_refused_at_build_time(options):
    with pytest.raises(ConfigError):
        LoadSheddingConfig(**options)


@pytest.mark.parametrize("retry_after", [1.5, True, "2"], ids=["float", "bool", "text"])
def test_a_retry_after_that_is_no_whole_number_of_seconds_is_refused(retry_after):
    # Each would go out as a Retry-After that is no delta-seconds ("1.5", "True").
    with pytest.raises(ConfigError):
        LoadSheddingConfig(retry_after=retry_after)


@pytest.mark.parametrize(
    "options",
    [
        {"max_concurrent": math.inf},
        {"max_concurrent": 2.5},
        {"max_queue": 1.5},
        {"min_concurrent": True},
    ],
    ids=["infinite-cap", "fractional-cap", "fractional-queue", "bool-floor"],
)
def test_a_request_count_that_is_no_whole_number_is_refused(options):
    # An infinite cap ("unlimited") made adaptive mode's first cut raise OverflowError:
    # the request that triggered it got a 500 and its slot was never given back.
    with pytest.raises(ConfigError, match="whole number"):
        LoadSheddingConfig(adaptive=True, **options)


@pytest.mark.parametrize("target", [math.nan, math.inf], ids=["nan", "inf"])
def test_a_target_latency_no_latency_can_exceed_is_refused(target):
    # No p90 compares above NaN or inf: adaptive mode would silently never lower the cap.
    with pytest.raises(ConfigError, match="target_latency"):
        LoadSheddingConfig(adaptive=True, target_latency=target)


class FailingClock:
    """A clock that raises on the reads listed in ``failing`` (1 is the first read)."""

    def __init__(self, *failing: int) -> None:
        self.reads = 0
        self.failing = failing

    def __call__(self) -> float:
        self.reads += 1
        if self.reads in self.failing:
            raise OSError("the clock source is gone")
        return 1_000.0


@pytest.mark.parametrize("failing", [1, 2], ids=["at-admission", "at-completion"])
def test_an_adaptive_clock_that_raises_still_gives_the_slot_back(failing):
    """Read once as a request is admitted and once as it ends: a read that raised kept
    the request's slot for good, and with max_concurrent=1 every later request was shed."""
    clock = FailingClock(failing)
    config = LoadSheddingConfig(max_concurrent=1, max_queue=0, adaptive=True, clock=clock)
    shedding = LoadShedding(config)
    app = App(middleware=[shedding])

    @app.get("/work")
    async def work(request):
        return {"ok": True}

    client = TestClient(app)
    assert client.get("/work").status == 500
    assert shedding.active == 0
    assert [client.get("/work").status for _ in range(3)] == [200] * 3
