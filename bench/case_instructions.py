"""CPU instructions (valgrind callgrind) for the Lambda contenders: deterministic, so
the ratios hold on a loaded machine where wall times wander.

The same contenders, event and environment as the ``serverless`` case. Warm: instructions
per invocation, from two runs of one process that differ only in the number of invocations
(the difference divided by the extra invocations, so start-up and warm-up cancel out).
Both runs collect garbage once after the warm-up, so they start from the same collector
state: otherwise a full collection (a walk over every object the process holds, rare in a
steady state) falls inside one run's window or not by chance, and moved a contender's
figure by tens of thousands of instructions between runs of the same code.
Cold: instructions of a fresh process that imports, builds and serves its first request,
minus those of an interpreter that starts and leaves (both leave without the interpreter's
teardown, which a serverless runtime never runs on a request's path). Instructions are
not time (system calls, page faults and cache misses are not counted), but the same work
always counts the same. Every program runs once first, uncounted, so that no count
includes compiling bytecode. Skipped when valgrind is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from bench import _child, _env
from bench._timing import Row, quick, with_ratio
from bench.case_serverless import ANCHOR, BASELINE, CONTENDERS, CONTRACT_FLOOR, _event

_COLLECTED = re.compile(r"Collected : (\d+)")
Jobs = dict[tuple[str, str], tuple[str, dict[str, str], int]]

RUN = """{prologue}
import os, sys
EVENT = {event!r}
{setup}
ctx = Context()
for _ in range({warmup}):
    h(EVENT, ctx)
N = int(os.environ["BENCH_N"])
if N:
    import gc

    gc.collect()
for _ in range(N):
    h(EVENT, ctx)
"""


def _instructions(python: str, code: str, env: dict[str, str]) -> int:
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python, "-c", code],
        cwd=_child.DEPLOY,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise _child.ChildError(f"callgrind run failed:\n{code}\n{done.stderr[-2000:]}")
    return int(found.group(1))


def _jobs(python: str) -> Jobs:
    """(case, contender) -> (code, env, invocations); cold jobs run their code once."""
    small, large = (20, 120) if quick() else (100, 600)
    jobs: Jobs = {}
    for c in [*CONTENDERS, CONTRACT_FLOOR]:
        env = _child.child_env(c.env)
        if c is not CONTRACT_FLOOR:  # warm only
            cold = (
                RUN.format(
                    prologue=_child.PROLOGUE, event=_event(c.path, False), setup=c.setup, warmup=1
                )
                + _child.END_AT_ONCE
            )
            jobs[("cold", c.name)] = (cold, {**env, "BENCH_N": "0"}, 0)
        for secure in (False, True):
            setup = c.secure_setup if secure else c.setup
            if setup is None:
                continue
            case = "warm secure" if secure else "warm"
            path = c.secure_path if secure else c.path
            code = RUN.format(
                prologue=_child.PROLOGUE, event=_event(path, secure), setup=setup, warmup=5
            )
            # The same window for every case: a garbage collection that falls into one run
            # and not the other moves a short window's per-call figure by tens of thousands.
            jobs[(f"{case} small", c.name)] = (code, {**env, "BENCH_N": str(small)}, small)
            jobs[(f"{case} large", c.name)] = (code, {**env, "BENCH_N": str(large)}, large)
    jobs[("cold", BASELINE)] = (_child.BARE_INTERPRETER, _child.child_env(), 0)
    return jobs


WARM_TITLES = {
    "warm": "warm, thousand instructions per invocation",
    "warm secure": "warm secure (RS256 bearer, CORS, security headers), thousand instructions",
}


def _rows(counts: dict[tuple[str, str], int], jobs: Jobs) -> list[Row]:
    rows: list[Row] = []
    base = counts[("cold", BASELINE)]
    for c in CONTENDERS:
        cold = (counts[("cold", c.name)] - base) / 1e6
        rows.append(
            Row(_child.COLD_CASE.format(unit="million instructions"), c.name, cold, unit="M")
        )
    for case, title in WARM_TITLES.items():
        for c in [*CONTENDERS, CONTRACT_FLOOR]:
            small, large = (case + " small", c.name), (case + " large", c.name)
            if small not in counts or large not in counts:
                continue
            extra = jobs[large][2] - jobs[small][2]
            per_call = (counts[large] - counts[small]) / extra / 1e3
            rows.append(Row(title, c.name, per_call, unit="k"))
    return rows


def _write_bytecode(python: str, jobs: Jobs) -> None:
    """Run each job's code once, uncounted, so every module it imports has current bytecode.

    A run that finds none (a fresh anchors environment, or a source file just edited)
    compiles what it imports: a cold Powertools process counted about 1,150M instructions
    instead of 395M on a fresh environment, and a window's two runs, which go side by side,
    could each compile or not by chance.
    """
    seen: set[str] = set()
    for code, env, _ in jobs.values():
        if code not in seen:
            seen.add(code)
            _child.cold(python, code, {**env, "BENCH_N": "0"})


def run() -> list[Row]:
    """Every contender under callgrind (two at a time), with ratios to Powertools."""
    if shutil.which("valgrind") is None:
        return [Row("skipped: valgrind is not installed", "-", 0.0, unit="")]
    python = _env.prepare()
    jobs = _jobs(python)
    _write_bytecode(python, jobs)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            key: pool.submit(_instructions, python, code, env)
            for key, (code, env, _) in jobs.items()
        }
        counts = {key: future.result() for key, future in futures.items()}
    return with_ratio(_rows(counts, jobs), ANCHOR)
