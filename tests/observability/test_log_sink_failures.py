"""stdout that is no happy terminal: closed, its reader gone, a full disk.

Each request must still get its answer, the process must go on, every line that reaches
the stream must be whole JSON, and a lost line is counted and reported once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from daloy_edge.observability import _sinks

ROOT = Path(__file__).resolve().parents[2]

# Serves /ok and /boom, each logging a handler line of ~5 KB (past PIPE_BUF) besides
# its request line, then prints every status on stderr.
SERVER = """
import os, sys
from daloy_edge import App
from daloy_edge.observability import get_logger
from daloy_edge.testing import TestClient

app = App(env={})

@app.get("/ok")
async def ok(request):
    get_logger(request).info("served", blob="y" * 5000)
    return {"ok": True}

@app.get("/boom")
async def boom(request):
    raise RuntimeError("failed")

client = TestClient(app)
statuses = [client.get(path).status_code for _ in range(20) for path in ("/ok", "/boom")]
dropped = getattr(app.request_log.sinks[0], "dropped", None)
os.write(2, f"statuses {sorted(set(statuses))} {len(statuses)} dropped {dropped}\\n".encode())
"""


def run_server(stdout: object, shell_prefix: str = "") -> list[str]:
    """The server's stderr lines, run with ``stdout`` (a file, a pipe, or None with a
    shell redirection in ``shell_prefix``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", SERVER]
    if shell_prefix:
        command = ["sh", "-c", f'exec "$0" -c "$1" {shell_prefix}', sys.executable, SERVER]
    done = subprocess.run(
        command, stdout=stdout, stderr=subprocess.PIPE, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stderr.decode().splitlines()


def test_closed_stdout_answers_every_request_and_complains_once() -> None:
    lines = run_server(None, ">&-")
    assert lines == [
        "daloy_edge: log sink StreamSink failed: OSError EBADF (reported once)",
        "statuses [200, 500] 40 dropped 60",
    ]


def test_full_disk_stdout_answers_every_request_and_complains_once() -> None:
    with open("/dev/full", "wb") as full:
        lines = run_server(full)
    assert lines == [
        "daloy_edge: log sink StreamSink failed: OSError ENOSPC (reported once)",
        "statuses [200, 500] 40 dropped 60",
    ]


def test_stdout_reader_gone_answers_every_request_and_complains_once() -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        lines = run_server(write)
    finally:
        os.close(write)
    assert lines == [
        "daloy_edge: log sink StreamSink failed: BrokenPipeError (reported once)",
        "statuses [200, 500] 40 dropped 60",
    ]


@pytest.fixture
def fresh_complaints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sinks, "_complained", set(), raising=False)
