"""A process at its thread limit, as Lambda (1,024 processes and threads per environment)
and containers (a cgroup's ``pids.max``) impose one, built with ``RLIMIT_NPROC``.

The limit counts the threads of the process's user and never applies to root, so the
process first takes a uid of its own for good: run it in a child (``python -c``), as
root, with everything it needs imported before (a module on a path that uid cannot read
fails to import afterwards).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

LIMITED_UID = 64_999
"""A uid no process runs as: the limit counts only this process's threads."""

SKIP_REASON = "RLIMIT_NPROC needs a uid other than root, and only root can take one"


def become_limited_user() -> None:
    """Take :data:`LIMITED_UID` for the rest of this process."""
    os.setgroups([])
    os.setgid(LIMITED_UID)
    os.setuid(LIMITED_UID)


def no_new_threads() -> None:
    """From now on starting a thread fails (``RuntimeError: can't start new thread``)."""
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    resource.setrlimit(resource.RLIMIT_NPROC, (0, hard))


def new_threads_again() -> None:
    """Threads start again (the soft limit back up to the hard one)."""
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    resource.setrlimit(resource.RLIMIT_NPROC, (hard, hard))


ROOT = Path(__file__).resolve().parents[2]


def run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with ``python -c`` from the checkout's root, failing with its stderr
    when it exits other than 0."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done
