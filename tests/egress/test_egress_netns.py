"""The egress tests that open sockets, run inside a fresh network namespace.

Each inner test of ``netns/netns_*.py`` is reported here as its own case.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import netns

INNER = sorted(Path(__file__).with_name("netns").glob("netns_*.py"))
CASES = [(path.stem, test) for path in INNER for test in netns.inner_tests(path)]


@pytest.mark.parametrize(("module", "test"), CASES, ids=[f"{m}::{t}" for m, t in CASES])
def test_inside_network_namespace(module, test):
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    outcome = netns.check(module, test)
    assert outcome.passed, outcome.message
    if outcome.skipped:
        pytest.skip("skipped inside the namespace")


def test_namespace_modules_refuse_to_run_on_the_host():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(INNER[0])],
        cwd=netns.ROOT,
        check=False,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != netns.INSIDE_ENV},
    )
    assert done.returncode != 0
    assert "only inside a fresh network namespace" in done.stdout
