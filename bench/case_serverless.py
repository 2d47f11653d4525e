"""Lambda contenders on one HTTP API v2 event: cold start, cold peak RSS, warm and warm secure µs.

Every contender runs on the same interpreter and environment (``bench/.venv-anchors``,
pinned in ``bench/anchors/requirements.txt``) with its code on the path like a Lambda
deployment package and Lambda's environment variables set. Contenders answer ``GET /hello``
with ``{"ok": true}``; the reference app (``examples.secure_app.lambda_handler``, every
feature configured) answers ``GET /health``, and ``GET /api/me`` with a bearer token for
the secure variant. Every secure row sends the same token on every invocation, as a
client does while its token lives; daloy_edge's verifier then skips the signature check
for a token it already checked, so one more row sends a new token each time. Cold start
is a fresh process (import + build + first invocation, leaving without the interpreter's
teardown) in wall ms over an interpreter that starts and leaves the same way; its peak
RSS is the child's own ``VmHWM`` (``ru_maxrss`` would carry the forking parent's peak
across exec). Contenders take turns in every round.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from bench import _child, _env
from bench._timing import Row, reps, with_ratio
from bench.anchors import common

ANCHOR = "powertools"
REFERENCE = "daloy_edge reference app"
BASELINE = "bare interpreter"


@dataclass(frozen=True)
class Contender:
    """How to get ``h`` (a Lambda handler) in a fresh process, and what to send it."""

    name: str
    setup: str
    path: str = "/hello"
    secure_setup: str | None = None
    secure_path: str = "/hello"
    env: dict[str, str] = field(default_factory=dict)


def _anchor(name: str, module: str) -> Contender:
    code = f"import {module} as m\nh = m.build({{secure}})"
    return Contender(name, code.format(secure=False), secure_setup=code.format(secure=True))


REF_SETUP = "from examples.secure_app import lambda_handler as h"
CONTENDERS = [
    _anchor("bare", "bench.anchors.bare"),
    _anchor("starlette+mangum", "bench.anchors.starlette_app"),
    _anchor("fastapi+mangum", "bench.anchors.fastapi_app"),
    _anchor(ANCHOR, "bench.anchors.powertools_app"),
    _anchor("daloy_edge App()", "bench.anchors.daloy_app"),
    Contender(
        REFERENCE,
        REF_SETUP,
        path="/health",
        secure_setup=REF_SETUP,
        secure_path="/api/me",
        env=common.reference_env(),
    ),
]
# Warm secure only: JWTAuth remembers a token whose signature it checked, and the other
# rows send one token again and again; this one sends a new token every time.
FRESH_TOKENS = Contender(
    "daloy_edge App(), new token each call",
    "h = None",
    secure_setup="""import itertools
from bench.anchors import common, daloy_app
_h = daloy_app.build(True)
_tokens = itertools.cycle(common.tokens())
def h(event, context):
    event["headers"]["authorization"] = "Bearer " + next(_tokens)
    return _h(event, context)""",
)
# Warm only: what a hand-written handler pays for the contract's headers and log line.
CONTRACT_FLOOR = Contender(
    "bare, contract headers and log line", "import bench.anchors.bare as m\nh = m.build_contract()"
)
# Cold only: the same app with no configuration at all (what `daloy-edge dev` serves).
UNCONFIGURED = Contender(f"{REFERENCE}, unconfigured", REF_SETUP, path="/health")

COLD = """{prologue}
EVENT = {event!r}
{setup}
r = h(EVENT, Context())
assert r["statusCode"] == 200, r
import sys
with open("/proc/self/status") as f:
    print("BENCH", [l.split()[1] for l in f if l.startswith("VmHWM:")][0], file=sys.stderr)
{end}"""

WARM = """{prologue}
import sys, time
EVENT = {event!r}
{setup}
ctx = Context()
r = h(EVENT, ctx)
assert r["statusCode"] == 200, r
for _ in range(200):
    h(EVENT, ctx)
for line in sys.stdin:
    n = int(line)
    t = time.perf_counter()
    for _ in range(n):
        h(EVENT, ctx)
    print("BENCH", (time.perf_counter() - t) / n * 1e6, file=sys.stderr, flush=True)
"""


def _event(path: str, secure: bool) -> dict[str, object]:
    event = common.http_api_event(common.token() if secure else None)
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path  # type: ignore[index]
    return event


def _rotations(names: list[str], rounds: int) -> Iterator[list[str]]:
    """Every name once per round, each round starting one further along."""
    for turn in range(rounds):
        k = turn % len(names)
        yield names[k:] + names[:k]


def cold_rows(python: str) -> list[Row]:
    """Cold start and cold peak RSS, every contender once per round, in turns."""
    contenders = [*CONTENDERS, UNCONFIGURED]
    jobs = {
        c.name: (
            COLD.format(
                prologue=_child.PROLOGUE,
                event=_event(c.path, False),
                setup=c.setup,
                end=_child.END_AT_ONCE,
            ),
            _child.child_env(c.env),
        )
        for c in contenders
    }
    jobs[BASELINE] = (_child.BARE_INTERPRETER, _child.child_env())
    for code, env in jobs.values():
        _child.cold(python, code, env)  # writes bytecode; not counted
    walls: dict[str, list[float]] = {name: [] for name in jobs}
    rss: dict[str, list[float]] = {name: [] for name in jobs}
    for names in _rotations(list(jobs), reps(15, 5)):
        for name in names:
            wall, report = _child.cold(python, *jobs[name])
            walls[name].append(wall)
            if report:
                rss[name].append(int(report) / 1024)
    base = statistics.median(walls[BASELINE])
    rows = [Row("interpreter start", BASELINE, base, unit="ms")]
    for c in contenders:
        over = statistics.median(walls[c.name]) - base
        rows.append(Row(_child.COLD_CASE.format(unit="ms"), c.name, over, unit="ms"))
    for c in contenders:
        peak = statistics.median(rss[c.name])
        rows.append(Row("cold peak RSS (VmHWM)", c.name, peak, unit="MB"))
    return rows


def warm_rows(python: str, secure: bool) -> list[Row]:
    """Warm µs per invocation: long-lived processes per contender, timed in turns.

    Each contender gets a fresh process in each of several rounds, and its figure is the
    median of the processes' medians: on this kind of machine one process can run its
    whole life a good deal slower or faster than another of the same program."""
    case = "warm secure µs (RS256 bearer, CORS, security headers)" if secure else "warm µs"
    contenders = [*CONTENDERS, FRESH_TOKENS] if secure else [*CONTENDERS, CONTRACT_FLOOR]
    jobs: dict[str, tuple[str, dict[str, str]]] = {}
    for c in contenders:
        setup = c.secure_setup if secure else c.setup
        if setup is None:
            continue
        event = _event(c.secure_path if secure else c.path, secure)
        code = WARM.format(prologue=_child.PROLOGUE, event=event, setup=setup)
        jobs[c.name] = (code, _child.child_env(c.env))
    number = reps(500, 100) if secure else reps(3000, 500)
    per_process: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(reps(3, 1)):
        workers: dict[str, _child.Worker] = {}
        try:
            for name, (code, env) in jobs.items():
                workers[name] = _child.Worker(python, code, env)
            samples: dict[str, list[float]] = {name: [] for name in workers}
            for names in _rotations(list(workers), reps(5, 3)):
                for name in names:
                    samples[name].append(workers[name].time_us(number))
        finally:
            for worker in workers.values():
                worker.close()
        for name, values in samples.items():
            per_process[name].append(statistics.median(values))
    return [Row(case, name, statistics.median(values)) for name, values in per_process.items()]


def run() -> list[Row]:
    """Every contender in every case, with ratios to Powertools."""
    python = _env.prepare()
    rows = cold_rows(python) + warm_rows(python, False) + warm_rows(python, True)
    return with_ratio(rows, ANCHOR)


if __name__ == "__main__":
    from bench._timing import markdown

    print(markdown(run()))
    print(json.dumps({"python": sys.version}))
