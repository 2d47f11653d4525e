"""Forked children in test scripts: wait for one, and never for ever."""

from __future__ import annotations

import os
import time


def hung(pid: int, seconds: float) -> bool:
    """Wait up to ``seconds`` for the child ``pid`` to end; True if it had not (it is
    then killed and reaped, so a hang fails its test instead of the run)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return True
