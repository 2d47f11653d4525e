"""A 100 MB chunked request body against the reference app under a real uvicorn.

The attack: an endless or huge upload meant to exhaust the server's memory. The body limit
must refuse it with 413 while the server holds no more than a bounded slice of it. A
resource assertion, not a timing: the bound is generous (3x the limit + 10 MB) and the
server's RSS is read from /proc.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.memory import MIB, PeakRSS, Streamed, peak_rss, stream_chunked
from tests.support.servers import ROOT, bound_socket, wait_until_serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

UPLOAD = 100 * MIB
JSON = {"content-type": "application/json"}
ROUTES = {  # path: its body limit in the app below
    "/webhooks/ingest": MIB,  # DALOY_MAX_BODY_BYTES, read whole to check the signature
    "/session/login": 1024,  # the route's own max_body
}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, int]]:
    """(port, pid) of uvicorn serving the reference app with a 1 MiB default body limit."""
    sock = bound_socket()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DALOY_MAX_BODY_BYTES": str(MIB),
        "DALOY_SESSION_KEYS": "test-session-key-0123456789abcdef0123",
        "DALOY_WEBHOOK_SECRETS": "test-webhook-secret-0123456789abcdef",
    }
    args = [sys.executable, "-m", "uvicorn", "examples.secure_app:asgi", "--fd"]
    args += [str(sock.fileno()), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, pass_fds=(sock.fileno(),), stdout=subprocess.DEVNULL
    )
    port = sock.getsockname()[1]
    sock.close()
    try:
        wait_until_serving(port)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module", params=sorted(ROUTES))
def upload(
    request: pytest.FixtureRequest, server: tuple[int, int]
) -> tuple[str, Streamed, PeakRSS]:
    """One 100 MB upload to the route, after a small request has done the lazy imports."""
    port, pid = server
    path = request.param
    stream_chunked(port, path, 500, headers=JSON)
    with peak_rss(pid) as rss:
        result = stream_chunked(port, path, UPLOAD, headers=JSON)
    return path, result, rss


def test_streamed_100mb_body_is_refused_with_413(
    upload: tuple[str, Streamed, PeakRSS],
) -> None:
    _, result, _ = upload
    assert result.status == 413
    assert b"payload-too-large" in result.response
    assert result.sent < UPLOAD


def test_streamed_100mb_body_does_not_grow_server_rss_past_its_limit(
    upload: tuple[str, Streamed, PeakRSS],
) -> None:
    path, _, rss = upload
    assert rss.growth < 3 * ROUTES[path] + 10 * MIB, (path, rss)
