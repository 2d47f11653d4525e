"""What ``pip install`` puts on a user's machine: the wheels, built as a release builds them
(the source distribution first, each wheel from it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

UV = os.environ.get("UV") or shutil.which("uv")
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(UV is None, reason="uv is not installed")


@pytest.fixture(scope="module")
def core_wheel(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("dist")
    assert UV is not None
    subprocess.run(
        [UV, "build", "--offline", "--quiet", "--package", "daloy-edge", "--out-dir", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("daloy_edge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_installed_core_carries_no_ruff_config_extending_a_missing_pyproject(
    core_wheel: list[str],
) -> None:
    # ruff reads every ruff.toml under the project it checks, an installed one too.
    assert [name for name in core_wheel if name.endswith("ruff.toml")] == []
