"""Exactness under concurrency: two app instances in separate processes share one Redis
through the Upstash shim; 2 x 200 simultaneous requests against a limit of 50 admit
exactly 50, for every algorithm."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.redis_server import ROOT, RedisServer, ShimServer

pytestmark = pytest.mark.slow

REQUESTS_PER_INSTANCE = 200
LIMIT = 50


def start_instance(shim: ShimServer, algorithm: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.ratelimit.burst_worker",
            shim.url,
            shim.token,
            algorithm,
            str(REQUESTS_PER_INSTANCE),
            str(LIMIT),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


@pytest.mark.parametrize("algorithm", ["fixed_window", "sliding_window", "gcra"])
def test_two_instances_admit_exactly_the_limit_under_a_concurrent_burst(
    algorithm: str, shim: ShimServer, redis_server: RedisServer
):
    instances = [start_instance(shim, algorithm) for _ in range(2)]
    for process in instances:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    counts = []
    for process in instances:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        counts.append(json.loads(out.strip().splitlines()[-1]))
    admitted = sum(c.get("200", 0) for c in counts)
    denied = sum(c.get("429", 0) for c in counts)
    assert admitted == LIMIT
    assert denied == 2 * REQUESTS_PER_INSTANCE - LIMIT
