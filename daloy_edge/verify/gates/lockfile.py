"""``lockfile`` and ``binary-only-installs``: what gets installed is pinned, and installing
it runs no code.

``lockfile``: ``uv.lock`` exists, agrees with every pyproject (``uv lock --check
--offline`` when uv is on the machine, else a comparison of the declared names), and every
registry or URL artifact in it carries a sha256 (or stronger) hash; git sources must be
pinned to a full commit; local path dependencies outside the workspace cannot be.

``binary-only-installs``: every locked package has wheels, and one of them fits this
interpreter (or a pure-Python one exists). An sdist-only package is built at install time,
which runs its ``setup.py`` / build backend: Python's postinstall hook.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

from daloy_edge.verify._lock import Lock, LockedPackage, normalize
from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project

__all__ = ["BINARY_GATE", "LOCKFILE_GATE"]

_STRONG_HASH = re.compile(r"^(sha256|sha384|sha512):[0-9a-f]{64,128}$")
_GIT_COMMIT = re.compile(r"#[0-9a-f]{40}$")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
LOCK = "uv.lock"


def _uv() -> str | None:
    return os.environ.get("UV") or shutil.which("uv")


def _uv_check(project: Project, uv: str) -> list[Finding]:
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", NO_COLOR="1")
    try:
        done = subprocess.run(  # noqa: S603 -- fixed tool, argument list, no shell
            [uv, "lock", "--check", "--offline", "--quiet"],
            cwd=project.root,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [Finding(LOCK, 0, f"could not run uv lock --check: {exc}")]
    if done.returncode == 0:
        return []
    lines = [
        ln.strip()
        for ln in (done.stderr or done.stdout).splitlines()
        if ln.strip() and not ln.strip().startswith("hint:")
    ]
    reason = lines[-1] if lines else f"exit status {done.returncode}"
    return [Finding(LOCK, 0, f"uv.lock is out of date with pyproject.toml ({reason})")]


def _declared(pyproject: dict[str, Any]) -> set[str]:
    project = pyproject.get("project", {})
    specs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        specs.extend(extra)
    names = set()
    for spec in specs:
        match = _NAME.match(spec)
        if match:
            names.add(normalize(match[1]))
    return names


def _name_check(project: Project, lock: Lock) -> list[Finding]:
    findings = []
    for member in project.members:
        locked = next((p for p in lock.packages if p.name == normalize(member.name)), None)
        if locked is None:
            findings.append(Finding(LOCK, 0, f"{member.name or member.rel} is not in uv.lock"))
            continue
        requires = locked.raw.get("metadata", {}).get("requires-dist", [])
        in_lock = {normalize(str(r["name"])) for r in requires}
        missing = _declared(member.pyproject) - in_lock
        stale = in_lock - _declared(member.pyproject)
        for name in sorted(missing):
            findings.append(Finding(LOCK, 0, f"{member.name} declares {name}, uv.lock does not"))
        for name in sorted(stale):
            findings.append(
                Finding(
                    LOCK, 0, f"uv.lock lists {name} for {member.name}, pyproject no longer does"
                )
            )
    return findings


def _pinning(package: LockedPackage) -> list[Finding]:
    kind = package.source_kind
    label = f"{package.name} {package.version}"
    if kind in ("registry", "url"):
        artifacts = list(package.artifacts())
        if not artifacts:
            return [Finding(LOCK, 0, f"{label}: no artifact is locked")]
        weak = [a for a in artifacts if not _STRONG_HASH.match(str(a.get("hash", "")))]
        if weak:
            return [Finding(LOCK, 0, f"{label}: {len(weak)} artifact(s) without a sha256 hash")]
        return []
    if kind == "git":
        if not _GIT_COMMIT.search(str(package.source["git"])):
            return [Finding(LOCK, 0, f"{label}: git source not pinned to a full commit")]
        return []
    return [Finding(LOCK, 0, f"{label}: {kind} source outside the workspace cannot be pinned")]


def check_lockfile(project: Project) -> Outcome:
    """Check that the lock exists, is current and pins every artifact by hash."""
    if not (project.root / "pyproject.toml").is_file():
        return Outcome(checked="no pyproject.toml: nothing to lock")
    if project.lock is None:
        return Outcome([Finding("", 0, "uv.lock is missing: run `uv lock` and commit it")])
    lock = Lock(project.lock)
    uv = _uv()
    findings = _uv_check(project, uv) if uv else _name_check(project, lock)
    for package in lock.third_party():
        findings.extend(_pinning(package))
    how = "uv lock --check" if uv else "declared names"
    return Outcome(findings, f"{len(lock.third_party())} locked packages, in sync by {how}")


def _wheel_tags(filename: str) -> set[str]:
    parts = filename.removesuffix(".whl").split("-")
    if len(parts) < 5:
        return set()
    py, abi, plat = parts[-3], parts[-2], parts[-1]
    return {f"{p}-{a}-{x}" for p in py.split(".") for a in abi.split(".") for x in plat.split(".")}


def _supported_tags() -> set[str] | None:
    try:
        from packaging.tags import sys_tags
    except ImportError:
        return None
    return {str(tag) for tag in sys_tags()}


def _wheel_problem(package: LockedPackage, here: set[str] | None) -> str | None:
    wheels = [str(w.get("url") or w.get("filename") or w.get("path") or "") for w in package.wheels]
    if not wheels:
        return "no wheel is locked: installing it runs its build backend"
    tags = set().union(*(_wheel_tags(w.rsplit("/", 1)[-1]) for w in wheels))
    if here is None or any(t.endswith("-none-any") for t in tags) or tags & here:
        return None
    return "no locked wheel fits this interpreter: installing here would build the sdist"


def check_binary(project: Project) -> Outcome:
    """Check that every locked package installs from a wheel."""
    if project.lock is None:
        return Outcome(checked="no uv.lock (the lockfile gate reports it)")
    lock = Lock(project.lock)
    here = _supported_tags()
    needed_here = {(p.name, p.version) for p in lock.runtime(here_only=True, dev=True)}
    findings = []
    for package in lock.third_party():
        if package.source_kind not in ("registry", "url"):
            continue
        problem = _wheel_problem(
            package, here if (package.name, package.version) in needed_here else None
        )
        if problem:
            findings.append(Finding(LOCK, 0, f"{package.name} {package.version}: {problem}"))
    return Outcome(findings, f"{len(lock.third_party())} locked packages")


LOCKFILE_GATE = Gate(
    "lockfile", "uv.lock present, in sync, every artifact hash-pinned", check_lockfile
)
BINARY_GATE = Gate(
    "binary-only-installs", "every locked dependency installs from a wheel", check_binary
)
