"""Headless Chromium against ASGI apps served by real uvicorn threads on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import pytest

from tests.support.uvicorn_thread import loopback_socket, serve

__all__ = ["FLAGS", "loopback_socket", "rendered_dom", "serve"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is missing: run scripts/system-deps.sh")
    return found


def rendered_dom(url: str, *, profile: str | None = None, flags: Sequence[str] = ()) -> str:
    """The DOM of ``url`` once its scripts settled; ``profile`` keeps cookies across calls."""
    with tempfile.TemporaryDirectory() as fresh:
        result = subprocess.run(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={profile or fresh}",
                *flags,
                "--virtual-time-budget=3000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            timeout=90,
            check=True,
        )
    return result.stdout.decode()
