"""Lambda contenders answering an HTTP API v2 ``GET /hello``: cold start, warm, secure, RSS.

Anchors run in ``bench/.venv-anchors`` (pinned in ``bench/anchors/requirements.txt``), daloy_edge
in the project environment; every number in one table comes from the same run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench._timing import Row, with_ratio

ROOT = Path(__file__).resolve().parent.parent
ANCHOR_VENV = ROOT / "bench" / ".venv-anchors"
REQUIREMENTS = ROOT / "bench" / "anchors" / "requirements.txt"
CONTENDERS = {
    "bare": "bench.anchors.bare",
    "starlette+mangum": "bench.anchors.starlette_app",
    "fastapi+mangum": "bench.anchors.fastapi_app",
    "powertools": "bench.anchors.powertools_app",
    "daloy_edge": "bench.anchors.daloy_app",
}
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "15"))

COLD = """
import resource, time
t0 = time.perf_counter()
import {module} as m
from bench.anchors.common import http_api_event, Context
h = m.build({secure})
r = h(http_api_event({token}), Context())
assert r["statusCode"] == 200, r
t1 = time.perf_counter()
print(t1 - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

WARM = """
import json, statistics, time
import {module} as m
from bench.anchors.common import http_api_event, Context
h = m.build({secure})
ev, ctx = http_api_event({token}), Context()
assert h(ev, ctx)["statusCode"] == 200
n = {number}
samples = []
for _ in range(7):
    t = time.perf_counter()
    for _ in range(n):
        h(ev, ctx)
    samples.append((time.perf_counter() - t) / n * 1e6)
print(statistics.median(samples))
"""


def ensure_anchor_venv() -> Path:
    """Create the isolated anchor environment once; returns its interpreter."""
    python = ANCHOR_VENV / "bin" / "python"
    stamp = ANCHOR_VENV / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run(
        ["uv", "venv", "-q", "--allow-existing", "-p", sys.executable, str(ANCHOR_VENV)],
        check=True,
        env=env,
    )
    subprocess.run(
        ["uv", "pip", "install", "-q", "-p", str(python), "-r", str(REQUIREMENTS)],
        check=True,
        env=env,
    )
    stamp.write_text(wanted)
    return python


def _interpreter(name: str, anchor_python: Path) -> str:
    return sys.executable if name == "daloy_edge" else str(anchor_python)


def _run(python: str, code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "0"}
    out = subprocess.run(
        [python, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT, env=env
    )
    return out.stdout.strip().splitlines()[-1]


def _baseline_ms(python: str) -> float:
    walls = []
    for _ in range(COLD_RUNS):
        t = time.perf_counter()
        _run(python, "pass\nprint(0)")
        walls.append((time.perf_counter() - t) * 1000)
    return statistics.median(walls)


def cold(name: str, module: str, python: str) -> tuple[float, float]:
    """Median wall ms of a fresh process (import + build + first invocation) and peak RSS MB."""
    code = COLD.format(module=module, secure=False, token="None")
    walls, rss = [], []
    _run(python, code)
    for _ in range(COLD_RUNS):
        t = time.perf_counter()
        line = _run(python, code)
        walls.append((time.perf_counter() - t) * 1000)
        rss.append(int(line.split()[1]) / 1024)
    return statistics.median(walls), statistics.median(rss)


def warm(module: str, python: str, secure: bool) -> float:
    """Median µs per warm invocation."""
    token = "__import__('bench.anchors.common').anchors.common.token()" if secure else "None"
    number = 500 if secure else 5000
    return float(
        _run(python, WARM.format(module=module, secure=secure, token=token, number=number))
    )


def run() -> list[Row]:
    """Every contender in every case, with ratios to Powertools."""
    anchor_python = ensure_anchor_venv()
    _run(
        str(anchor_python), "from bench.anchors.common import ensure_keys; ensure_keys(); print(0)"
    )
    rows: list[Row] = []
    base_anchor = _baseline_ms(str(anchor_python))
    base_self = _baseline_ms(sys.executable)
    for name, module in CONTENDERS.items():
        python = _interpreter(name, anchor_python)
        base = base_self if name == "daloy_edge" else base_anchor
        wall, rss = cold(name, module, python)
        rows.append(Row("cold start over `python -c pass`", name, wall - base, unit="ms"))
        rows.append(Row("cold peak RSS", name, rss, unit="MB"))
        rows.append(Row("warm µs", name, warm(module, python, False)))
        rows.append(Row("warm secure µs", name, warm(module, python, True)))
    return with_ratio(rows, "powertools")


if __name__ == "__main__":
    from bench._timing import markdown

    print(markdown(run()))
    print(json.dumps({"python": sys.version}))
