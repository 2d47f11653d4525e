"""ASGI throughput under a real uvicorn (one worker) on 127.0.0.1, in two set-ups.

uvicorn's own default (h11 and the asyncio loop, what ``pip install uvicorn`` gives), and
``uvicorn[standard]`` (httptools and uvloop, what production deployments usually run). The
HTTP parser's cost per response header differs a lot between the two: h11 checks each
header in Python, httptools in C.

Contenders: a raw ASGI callable, bare Starlette, daloy_edge's default stack (``App()``
through ``daloy_edge_asgi.ASGIApp``, request log on, written to /dev/null) answering
``GET /hello``, and the reference app (``examples.secure_app:asgi``, configured for
production) answering ``GET /health``. uvicorn's access log is off for all of them but
one: bare Starlette again with it on, as uvicorn runs by default, so a request line is
written on both sides of that comparison (uvicorn's plain-text line against daloy_edge's
OTel JSON line). All run on the anchors' interpreter and uvicorn. ``wrk`` (one thread,
32 keep-alive connections) loads each in turn for a bounded time, in rounds that each start
every server afresh, so a figure is the median over several server processes; ratios are to
bare Starlette without the access log (higher is better). Also each server's peak RSS
after its round (the median over the rounds).
"""

from __future__ import annotations

import contextlib
import statistics
from dataclasses import dataclass, field, replace

from bench import _env, _servers
from bench._load import Load, run_load
from bench._timing import Row, reps, with_ratio
from bench.anchors.common import reference_env

ANCHOR = "bare Starlette"
SETUPS = {"h11, asyncio": ("h11", "asyncio"), "httptools, uvloop": ("httptools", "uvloop")}


@dataclass(frozen=True)
class Target:
    name: str
    target: str
    path: str
    factory: bool = True
    env: dict[str, str] = field(default_factory=dict)
    access_log: bool = False


TARGETS = [
    Target("raw ASGI", "bench.anchors.asgi_apps:raw", "/hello"),
    Target(
        "raw ASGI, contract headers and log line", "bench.anchors.asgi_apps:raw_contract", "/hello"
    ),
    Target(ANCHOR, "bench.anchors.asgi_apps:starlette", "/hello"),
    Target(
        "bare Starlette, uvicorn's access log on (its default)",
        "bench.anchors.asgi_apps:starlette",
        "/hello",
        access_log=True,
    ),
    Target("daloy_edge App() /hello", "bench.anchors.asgi_apps:daloy", "/hello"),
    Target(
        "daloy_edge reference app /health",
        "examples.secure_app:asgi",
        "/health",
        factory=False,
        env=reference_env(),
    ),
]


def run() -> list[Row]:
    """Requests per second, p50 latency and peak RSS of each contender, in each set-up."""
    python = _env.prepare()
    wrk = _env.ensure_wrk()
    rows: list[Row] = []
    for setup, (http, loop) in SETUPS.items():
        rows += _measure(python, wrk, setup, http, loop)
    return rows


def _measure(python: str, wrk: str, setup: str, http: str, loop: str) -> list[Row]:
    seconds, rounds = reps(5, 2), reps(3, 1)
    loads: dict[str, list[Load]] = {t.name: [] for t in TARGETS}
    peaks: dict[str, list[float]] = {t.name: [] for t in TARGETS}
    for turn in range(rounds):
        # Fresh servers every round: a process can run its whole life a good deal slower
        # or faster than another of the same program on this machine, so each figure is
        # the median over as many processes as rounds, not over one process's runs.
        with contextlib.ExitStack() as stack:
            served = {
                t.name: stack.enter_context(
                    _servers.uvicorn(
                        python,
                        t.target,
                        env=t.env,
                        factory=t.factory,
                        path=t.path,
                        http=http,
                        loop=loop,
                        access_log=t.access_log,
                    )
                )
                for t in TARGETS
            }
            urls = {t.name: f"http://127.0.0.1:{served[t.name].port}{t.path}" for t in TARGETS}
            for url in urls.values():
                run_load(wrk, url, 1)  # warm-up, not counted
            names = list(urls)[turn % len(urls) :] + list(urls)[: turn % len(urls)]
            for name in names:
                loads[name].append(run_load(wrk, urls[name], seconds))
            for name, server in served.items():
                peaks[name].append(_servers.status_kib(server.pid)["VmHWM"] / 1024)
    tool = next(iter(loads.values()))[0].tool
    rows = []
    for name, runs in loads.items():
        rps = statistics.median(r.requests_per_s for r in runs)
        rows.append(Row(f"throughput, {setup} ({tool}, 32 connections)", name, rps, unit="req/s"))
    # Ratios before the failures join the names: the anchor's row is found by its name.
    failures = {name: sum(r.non_2xx for r in runs) for name, runs in loads.items()}
    rows = [
        replace(r, contender=f"{r.contender} ({failures[r.contender]} non-2xx)")
        if failures[r.contender]
        else r
        for r in with_ratio(rows, ANCHOR)
    ]
    for name, runs in loads.items():
        p50 = statistics.median(r.p50_ms for r in runs)
        rows.append(Row(f"p50 latency under that load, {setup}", name, p50, unit="ms"))
    for name, values in peaks.items():
        peak = statistics.median(values)
        rows.append(Row(f"server peak RSS after the runs, {setup}", name, peak, unit="MB"))
    return with_ratio(rows, ANCHOR)
