from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from daloy_edge.verify import Status
from daloy_edge.verify.gates import lockfile
from tests.verify.conftest import gate
from tests.verify.locks import lock, package, pyproject

UV = os.environ.get("UV") or shutil.which("uv")
needs_uv = pytest.mark.skipif(UV is None, reason="uv is not installed")


def test_missing_lock_is_a_finding(layout):
    result = gate(layout({"pyproject.toml": pyproject()}), "lockfile")
    assert [f.message for f in result.findings] == [
        "uv.lock is missing: run `uv lock` and commit it"
    ]


@needs_uv
def test_lock_made_by_uv_passes(layout, tmp_path):
    project = layout({"pyproject.toml": pyproject(), "demo/__init__.py": ""})
    subprocess.run([UV, "lock", "--offline", "-q"], cwd=tmp_path, check=True)
    result = gate(project, "lockfile")
    assert result.status is Status.PASS
    assert result.detail == "0 locked packages, in sync by uv lock --check"


@needs_uv
def test_dependency_added_after_locking_is_out_of_sync(layout, tmp_path):
    layout({"pyproject.toml": pyproject(), "demo/__init__.py": ""})
    subprocess.run([UV, "lock", "--offline", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "pyproject.toml").write_text(pyproject("idna>=3"))
    result = gate(layout({}), "lockfile")
    assert result.status is Status.FAIL
    assert result.findings[0].message.startswith("uv.lock is out of date with pyproject.toml")


def test_without_uv_declared_names_are_compared(layout, monkeypatch):
    monkeypatch.setattr(lockfile, "_uv", lambda: None)
    files = {
        "pyproject.toml": pyproject("idna", "anyio"),
        "uv.lock": lock(package("idna"), deps=["idna"]),
    }
    result = gate(layout(files), "lockfile")
    assert [f.message for f in result.findings] == ["demo declares anyio, uv.lock does not"]


def test_artifact_without_hash_is_a_finding(layout, monkeypatch):
    monkeypatch.setattr(lockfile, "_uv", lambda: None)
    files = {
        "pyproject.toml": pyproject("idna"),
        "uv.lock": lock(package("idna", hashed=False), deps=["idna"]),
    }
    result = gate(layout(files), "lockfile")
    assert [f.message for f in result.findings] == ["idna 1.0: 2 artifact(s) without a sha256 hash"]


def test_git_source_must_name_a_full_commit(layout, monkeypatch):
    monkeypatch.setattr(lockfile, "_uv", lambda: None)
    git = '{ git = "https://github.com/o/lib?branch=main#main" }'
    files = {
        "pyproject.toml": pyproject("lib"),
        "uv.lock": lock(package("lib", source=git, wheels=[], sdist=False), deps=["lib"]),
    }
    result = gate(layout(files), "lockfile")
    assert [f.message for f in result.findings] == [
        "lib 1.0: git source not pinned to a full commit"
    ]


def test_hash_pinned_lock_passes_without_uv(layout, monkeypatch):
    monkeypatch.setattr(lockfile, "_uv", lambda: None)
    files = {"pyproject.toml": pyproject("idna"), "uv.lock": lock(package("idna"), deps=["idna"])}
    assert gate(layout(files), "lockfile").status is Status.PASS


def test_sdist_only_package_is_flagged(layout):
    files = {"uv.lock": lock(package("legacy", wheels=[]), deps=["legacy"])}
    result = gate(layout(files), "binary-only-installs")
    assert [f.message for f in result.findings] == [
        "legacy 1.0: no wheel is locked: installing it runs its build backend"
    ]


def test_wheels_only_for_another_platform_are_flagged(layout):
    wheels = [
        "native-1.0-cp311-cp311-win_amd64.whl",
        "native-1.0-cp311-cp311-macosx_11_0_arm64.whl",
    ]
    files = {"uv.lock": lock(package("native", wheels=wheels), deps=["native"])}
    result = gate(layout(files), "binary-only-installs")
    assert [f.message for f in result.findings] == [
        "native 1.0: no locked wheel fits this interpreter: installing here would build the sdist"
    ]


def test_platform_wheels_behind_a_false_marker_pass(layout):
    wheels = ["winonly-1.0-cp311-cp311-win_amd64.whl"]
    edge = '{ name = "winonly", marker = "sys_platform == \'win32\'" }'
    files = {"uv.lock": lock(package("winonly", wheels=wheels), deps=[edge])}
    assert gate(layout(files), "binary-only-installs").status is Status.PASS


def test_pure_wheels_pass(layout):
    files = {"uv.lock": lock(package("idna"), package("h11"), deps=["idna", "h11"])}
    result = gate(layout(files), "binary-only-installs")
    assert result.status is Status.PASS
    assert result.detail == "2 locked packages"
