"""The harness loads the npm ``pyodide`` package it is given (``DALOY_PYODIDE``), so a run
on an older release is a run on that release, not on the locked one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version

from tests.support.workers import PYODIDE_ENV, PyodideHarness, pyodide_package

pytestmark = pytest.mark.slow


def test_the_harness_runs_the_pyodide_package_it_names(workers_harness: PyodideHarness) -> None:
    package = json.loads((pyodide_package() / "package.json").read_text())
    assert Version(workers_harness.pyodide_version) == Version(package["version"])


def test_a_named_pyodide_that_is_missing_skips_with_the_variable_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PYODIDE_ENV, str(tmp_path / "node_modules" / "pyodide"))
    with pytest.raises(pytest.skip.Exception, match=PYODIDE_ENV):
        pyodide_package()
