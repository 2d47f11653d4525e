"""What ``pip install`` puts on a user's machine: the wheels, built as a release builds them
(the source distribution first, each wheel from it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import daloy_edge

UV = os.environ.get("UV") or shutil.which("uv")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def core_wheel(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    if UV is None:
        pytest.skip("uv is not installed")
    out = tmp_path_factory.mktemp("dist")
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


def test_the_core_wheel_carries_the_license_text(core_wheel: list[str]) -> None:
    assert "daloy_edge-0.1.0.dist-info/licenses/LICENSE" in core_wheel


ADAPTERS = sorted(path.parent for path in (ROOT / "adapters").glob("*/pyproject.toml"))


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda path: path.name)
def test_each_adapter_ships_the_license_text(adapter: Path) -> None:
    # hatchling puts a LICENSE beside pyproject.toml into the wheel, and only that one.
    assert (adapter / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda path: path.name)
def test_each_adapter_is_released_with_and_requires_the_core_it_imports(adapter: Path) -> None:
    # The adapters import the core's private modules, so only the same release line fits.
    project = tomllib.loads((adapter / "pyproject.toml").read_text())["project"]
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == core["version"] == daloy_edge.__version__
    assert f"daloy-edge~={daloy_edge.__version__}" in project["dependencies"]


# The newest release each extra must refuse, and why: a user's environment (a Lambda layer,
# a Cloud Function's requirements, an existing service) keeps whatever older version the
# declared range admits, and the lock never sees it.
REFUSED = {
    ("jwt", "pyjwt", "2.12.1"): "GHSA-xgmm-8j9v-c9wx, GHSA-jq35-7prp-9v3f: algorithm confusion",
    ("jwt", "cryptography", "48.0.0"): "GHSA-537c-gmf6-5ccf: the wheels' OpenSSL",
    # Before 1.0.6 a certificate that fails to verify escapes httpx as a bare ssl error: a
    # JWKS endpoint with a bad certificate made every request a 500 and a new handshake.
    ("http", "httpcore", "1.0.5"): "a failed TLS handshake is no httpx error",
    ("http", "httpcore", "1.0.8"): "h11 < 0.16, GHSA-vqfr-h8mv-ghfj: lenient chunked bodies",
    # We only compress, but httpx in the same process decodes br responses with it.
    ("brotli", "brotli", "1.1.0"): "GHSA-2qfp-q593-8484: unbounded decompression",
}


def _extra_requirement(extra: str, name: str) -> Requirement:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [
        requirement
        for requirement in map(Requirement, extras["optional-dependencies"][extra])
        if canonicalize_name(requirement.name) == name
    ]
    assert found, f"the {extra!r} extra does not name {name}"
    return found[0]


@pytest.mark.parametrize(("extra", "name", "version"), list(REFUSED))
def test_extras_refuse_releases_with_advisories_or_failures(
    extra: str, name: str, version: str
) -> None:
    requirement = _extra_requirement(extra, name)
    reason = REFUSED[extra, name, version]
    assert not requirement.specifier.contains(version, prereleases=True), reason
