"""What a benchmark run needs outside the project environment, installed on first use.

- ``bench/.venv-anchors``: the pinned anchors (``bench/anchors/requirements.txt``), isolated
  from the project's own dependencies. Installed with uv, from its cache first, so a run
  after the first one works offline.
- ``bench/.deploy``: one directory of symlinks to the project's packages (the core, the
  Lambda and ASGI adapters, ``examples``, ``bench``), put on ``PYTHONPATH`` like a Lambda
  deployment package, so daloy_edge runs on the anchors' interpreter with one path entry.
- ``wrk``: the HTTP load generator for the ASGI case (Debian package, installed when the run
  has root and apt-get); without it the case falls back to a small asyncio client.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANCHOR_VENV = ROOT / "bench" / ".venv-anchors"
REQUIREMENTS = ROOT / "bench" / "anchors" / "requirements.txt"
DEPLOY = ROOT / "bench" / ".deploy"
PACKAGES = {
    "bench": ROOT / "bench",
    "daloy_edge": ROOT / "daloy_edge",
    "daloy_edge_aws_lambda": ROOT / "adapters" / "aws_lambda" / "daloy_edge_aws_lambda",
    "daloy_edge_asgi": ROOT / "adapters" / "asgi" / "daloy_edge_asgi",
    "examples": ROOT / "examples",
}


def _log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _uv_install(python: Path, env: dict[str, str]) -> None:
    base = ["uv", "pip", "install", "-q", "-p", str(python), "-r", str(REQUIREMENTS)]
    offline = subprocess.run([*base, "--offline"], env=env, capture_output=True, check=False)
    if offline.returncode != 0:
        _log("anchors not in the uv cache; installing from the registry")
        subprocess.run(base, check=True, env=env)


def ensure_anchor_venv() -> Path:
    """Create or refresh the isolated anchor environment; returns its interpreter."""
    python = ANCHOR_VENV / "bin" / "python"
    stamp = ANCHOR_VENV / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    _log(f"installing the anchors into {ANCHOR_VENV.relative_to(ROOT)}")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run(
        ["uv", "venv", "-q", "--allow-existing", "-p", sys.executable, str(ANCHOR_VENV)],
        check=True,
        env=env,
    )
    _uv_install(python, env)
    stamp.write_text(wanted)
    return python


def ensure_deploy_dir() -> Path:
    """The directory of package symlinks that every contender process has on its path."""
    DEPLOY.mkdir(exist_ok=True)
    for name, target in PACKAGES.items():
        link = DEPLOY / name
        if not link.is_symlink() or link.resolve() != target:
            link.unlink(missing_ok=True)
            link.symlink_to(target, target_is_directory=True)
    return DEPLOY


@functools.cache
def prepare() -> str:
    """Anchors, deployment directory and a fresh key pair and token; the interpreter to use."""
    python = str(ensure_anchor_venv())
    deploy = ensure_deploy_dir()
    subprocess.run(
        [python, "-c", "from bench.anchors.common import ensure_keys; ensure_keys()"],
        cwd=deploy,
        env={**os.environ, "PYTHONPATH": str(deploy)},
        check=True,
    )
    return python


def ensure_wrk() -> str | None:
    """The path of ``wrk``, installing the Debian package when possible; None otherwise."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    _log("installing wrk (Debian package)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> int:
        done = subprocess.run(
            ["apt-get", *args],
            check=False,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return done.returncode

    if apt("install", "-y", "-qq", "wrk") != 0:
        apt("update", "-qq")
        apt("install", "-y", "-qq", "wrk")
    return shutil.which("wrk")


def _git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "unknown"


def machine_summary() -> str:
    """A Markdown paragraph naming the machine, interpreter, commit and load."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    mode = "quick (fewer repetitions)" if os.environ.get("BENCH_QUICK") == "1" else "full"
    return (
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; commit `{_git_commit()}`; mode: {mode}\n"
        f"- Python {platform.python_version()} ({platform.python_implementation()}) on "
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}\n"
        f"- load average at start: {load}"
    )
