"""Headless Chromium against ASGI apps served by real uvicorn threads on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
import uvicorn

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


def loopback_socket() -> socket.socket:
    """A socket bound to 127.0.0.1 on a kernel-chosen port (known before the app is built)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(app: object, sock: socket.socket | None = None) -> Iterator[int]:
    """Serve the ASGI ``app`` under uvicorn in a thread; yields its port."""
    sock = sock or loopback_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


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
