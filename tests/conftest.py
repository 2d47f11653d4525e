"""Shared fixtures: the repository root is importable so ``examples`` resolves."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Session-wide Pyodide harness (fixture ``workers_harness``) for every Workers test, and
# ``type_errors`` for the tests of what a user's type checker sees.
pytest_plugins = ["tests.support.workers", "tests.support.typecheck"]


def pytest_configure(config: pytest.Config) -> None:
    # Hypothesis keeps caches (constants read from the code under test) under
    # ./.hypothesis, database or not: the session's own temporary folder keeps them out
    # of the checkout.
    if "HYPOTHESIS_STORAGE_DIRECTORY" not in os.environ:
        where = tempfile.mkdtemp(prefix="daloy-edge-hypothesis-")
        os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = where
        config.add_cleanup(lambda: shutil.rmtree(where, ignore_errors=True))
    # The model tests' settings start from this profile: the same examples on every run
    # (derandomized, so no database), and no deadline on steps that wait for a real
    # redis-server or moto.
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "daloy-edge",
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("daloy-edge")
