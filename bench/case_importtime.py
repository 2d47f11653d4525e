"""What ``import examples.secure_app`` spends its time on: ``-X importtime``, top 15 cumulative.

Fresh processes on the contenders' interpreter and path (see ``case_serverless``), the
reference app configured for production; the median of each module's cumulative and self
time over the runs. Ratios are shares of the whole import. ``-X importtime`` itself adds a
little to every import.
"""

from __future__ import annotations

import statistics
import subprocess
from collections import defaultdict

from bench import _child, _env
from bench._timing import Row, reps
from bench.anchors.common import reference_env

TARGET = "examples.secure_app"
TOP = 15


def _one_run(python: str) -> dict[str, tuple[int, int]]:
    done = subprocess.run(
        [python, "-X", "importtime", "-c", f"import {TARGET}"],
        cwd=_env.ensure_deploy_dir(),
        env=_child.child_env(reference_env()),
        capture_output=True,
        text=True,
        check=True,
    )
    times: dict[str, tuple[int, int]] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, total, name = line.removeprefix("import time:").split("|")
        times.setdefault(name.strip(), (int(own), int(total)))
    return times


def run() -> list[Row]:
    """The 15 modules with the largest cumulative import time, in ms."""
    python = _env.prepare()
    _one_run(python)  # writes bytecode; not counted
    own: dict[str, list[int]] = defaultdict(list)
    total: dict[str, list[int]] = defaultdict(list)
    for _ in range(reps(7, 2)):
        for name, (self_us, cumulative_us) in _one_run(python).items():
            own[name].append(self_us)
            total[name].append(cumulative_us)
    cumulative = {name: statistics.median(values) / 1000 for name, values in total.items()}
    whole = cumulative[TARGET]
    top = sorted(cumulative, key=cumulative.__getitem__, reverse=True)[:TOP]
    return [
        Row(
            "import examples.secure_app, top 15 by cumulative time",
            f"`{name}` (self {statistics.median(own[name]) / 1000:.1f} ms)",
            cumulative[name],
            f"`{TARGET}`",
            cumulative[name] / whole,
            "ms",
        )
        for name in top
    ]
