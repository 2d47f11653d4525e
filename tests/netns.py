"""Running tests inside a fresh network namespace, where nothing but loopback exists.

Tests that could reach a forbidden address if the code under test were wrong live in files
named ``netns_*.py`` (never collected by a plain ``pytest`` run). An ordinary test module
calls :func:`outcomes` to run all of them once, as root, under ``unshare -mn`` with loopback
up, a private ``/etc/hosts`` (:data:`HOSTS`) and ``/etc/resolv.conf`` (:data:`RESOLV_CONF`),
and reports each inner test as its own parametrised case. Inside, every such module calls
:func:`assert_isolated` on import, so running one directly on the host refuses to start.
"""

from __future__ import annotations

import ast
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSIDE_ENV = "DALOY_TEST_NETNS"

HOSTS = """\
127.0.0.1 localhost
::1 localhost
127.0.0.2 allowed.test
127.0.0.3 forbidden.test
127.0.0.4 other.test
127.0.0.2 tls.test
169.254.169.254 metadata.test
169.254.169.254 169.254.169.254.nip.io
10.0.0.1 private.test
10.0.0.1 10.0.0.1.nip.io
127.0.0.1 loopback.test
127.0.0.1 127.0.0.1.nip.io
::ffff:169.254.169.254 mapped.test
fd00:ec2::254 ula.test
127.0.0.2 mixed.test
10.0.0.1 mixed.test
"""
"""The namespace's ``/etc/hosts``: names that resolve to forbidden places, for real."""

RESOLV_CONF = """\
nameserver 127.0.0.1
options timeout:30 attempts:1
"""
"""The namespace's ``/etc/resolv.conf``: names not in :data:`HOSTS` are asked of 127.0.0.1,
where a test may serve DNS on port 53; with nothing there the lookup fails at once."""


def assert_isolated() -> None:
    """Refuse to go on unless this process sits in a namespace with only loopback."""
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if os.environ.get(INSIDE_ENV) != "1" or interfaces != ["lo"]:
        raise RuntimeError(
            "netns_* test modules run only inside a fresh network namespace "
            f"(interfaces here: {interfaces}); run the test_* module that wraps them"
        )


def unavailable_reason() -> str | None:
    """Why namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "needs root for unshare -mn (CI runs as root)"
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    if missing:
        return f"missing {' and '.join(missing)} (scripts/system-deps.sh installs them)"
    return None


@dataclass(frozen=True)
class Outcome:
    """What one inner test did."""

    passed: bool
    skipped: bool
    message: str


def inner_tests(path: Path) -> list[str]:
    """The names of the test functions in ``path``, read without importing it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    ]


def inner_modules() -> list[Path]:
    """Every ``netns_*.py`` module under tests/."""
    return sorted((ROOT / "tests").rglob("netns_*.py"))


_CACHE: dict[str, list[tuple[str, str, Outcome]]] = {}


def outcomes() -> list[tuple[str, str, Outcome]]:
    """Run every inner module once in a fresh namespace: ``(module stem, test, outcome)``."""
    if "all" not in _CACHE:
        _CACHE["all"] = _run(inner_modules())
    return _CACHE["all"]


def _run(modules: list[Path]) -> list[tuple[str, str, Outcome]]:
    with tempfile.TemporaryDirectory(prefix="daloy-netns-") as tmp:
        hosts = Path(tmp, "hosts")
        hosts.write_text(HOSTS, encoding="utf-8")
        resolv = Path(tmp, "resolv.conf")
        resolv.write_text(RESOLV_CONF, encoding="utf-8")
        report = Path(tmp, "report.xml")
        pytest_cmd = " ".join(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             f"--junitxml={report}", *map(str, modules)]
        )  # fmt: skip
        mounts = f"mount --bind {hosts} /etc/hosts && mount --bind {resolv} /etc/resolv.conf"
        script = f"ip link set lo up && {mounts} && exec {pytest_cmd}"
        env = {**os.environ, INSIDE_ENV: "1"}
        done = subprocess.run(
            ["unshare", "-mn", "--", "sh", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if not report.exists():
            raise RuntimeError(f"namespace run produced no report:\n{done.stdout}\n{done.stderr}")
        return _parse(report)


def _parse(report: Path) -> list[tuple[str, str, Outcome]]:
    results = []
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        name = case.get("name", "")
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        message = "" if failure is None else (failure.text or failure.get("message", ""))
        outcome = Outcome(failure is None, skipped is not None, message)
        results.append((module, name, outcome))
    return results


def check(module: str, test: str) -> Outcome:
    """Combine the outcomes of ``module::test`` (every parametrisation of it)."""
    cases = [
        outcome
        for mod, name, outcome in outcomes()
        if mod == module and (name == test or name.startswith(test + "["))
    ]
    if not cases:
        return Outcome(False, False, f"{module}::{test} did not run in the namespace")
    failed = [c.message for c in cases if not c.passed]
    if failed:
        return Outcome(False, False, "\n\n".join(failed))
    return Outcome(True, all(c.skipped for c in cases), "")
