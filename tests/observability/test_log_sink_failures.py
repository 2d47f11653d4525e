"""stdout that is no happy terminal: closed, its reader gone, a full disk, a full pipe.

Each request must still get its answer, the process must go on, every line that reaches
the stream must be whole JSON, and a lost line is counted and reported once.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daloy_edge import App, Request
from daloy_edge.observability import _sinks, get_logger
from daloy_edge.testing import TestClient

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


@pytest.fixture
def nonblocking_pipe() -> Iterator[tuple[int, int]]:
    """A pipe whose write end a parent made non-blocking, as containers often leave
    stdout."""
    read, write = os.pipe()
    fcntl.fcntl(write, fcntl.F_SETFL, fcntl.fcntl(write, fcntl.F_GETFL) | os.O_NONBLOCK)
    yield read, write
    os.close(read)
    os.close(write)


def drain_after(read: int, pause: float, into: bytearray) -> threading.Thread:
    """A reader that starts reading ``read`` after ``pause`` seconds, until it closes."""

    def drain() -> None:
        time.sleep(pause)
        while chunk := os.read(read, 65536):
            into.extend(chunk)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return thread


def hang_up(write: int) -> None:
    """The pipe's reader sees its end; ``write`` stays open (on /dev/null) for the
    stream still holding it."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, write)
    os.close(null)


def app_logging_big_lines() -> App:
    app = App(env={})

    @app.get("/ok")
    async def ok(request: Request) -> dict[str, bool]:
        get_logger(request).info("served", blob="y" * 5000)
        return {"ok": True}

    return app


def serve_into(stream: io.TextIOWrapper, monkeypatch: pytest.MonkeyPatch, count: int) -> App:
    monkeypatch.setattr(sys, "stdout", stream)
    app = app_logging_big_lines()
    client = TestClient(app)
    assert {client.get("/ok").status_code for _ in range(count)} == {200}
    return app


@pytest.mark.parametrize("unbuffered", [True, False], ids=["PYTHONUNBUFFERED", "buffered"])
def test_nonblocking_stdout_pipe_a_slow_reader_drains_loses_no_line(
    nonblocking_pipe: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
    fresh_complaints: None,
    unbuffered: bool,
    capfd: pytest.CaptureFixture[str],
) -> None:
    read, write = nonblocking_pipe
    # sys.stdout as Python makes it for a pipe, with and without -u.
    if unbuffered:
        stream = io.TextIOWrapper(io.FileIO(write, "w", closefd=False), write_through=True)
    else:
        stream = io.TextIOWrapper(io.BufferedWriter(io.FileIO(write, "w", closefd=False)))
    received = bytearray()
    reader = drain_after(read, 0.3, received)
    app = serve_into(stream, monkeypatch, 40)
    hang_up(write)
    reader.join(10)
    lines = received.decode().splitlines()
    assert len(lines) == 80
    assert all(json.loads(line)["TraceId"] for line in lines)
    assert getattr(app.request_log.sinks[0], "dropped", 0) == 0
    assert "daloy_edge" not in capfd.readouterr().err


def test_nonblocking_stdout_pipe_a_stalled_reader_costs_counted_lines_never_torn_ones(
    nonblocking_pipe: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
    fresh_complaints: None,
    capfd: pytest.CaptureFixture[str],
) -> None:
    read, write = nonblocking_pipe
    monkeypatch.setattr(_sinks, "_PATIENCE", 0.1, raising=False)
    stream = io.TextIOWrapper(io.FileIO(write, "w", closefd=False), write_through=True)
    received = bytearray()
    reader = drain_after(read, 1.0, received)
    waits = []
    writable = _sinks._writable
    monkeypatch.setattr(
        _sinks, "_writable", lambda fd, seconds: waits.append(fd) or writable(fd, seconds)
    )
    app = serve_into(stream, monkeypatch, 60)
    time.sleep(1.2)  # the reader drains; the next line finishes any line begun
    TestClient(app).get("/ok")
    hang_up(write)
    reader.join(10)
    lines = received.decode().splitlines()
    assert all(json.loads(line)["TraceId"] for line in lines)
    dropped = getattr(app.request_log.sinks[0], "dropped", 0)
    assert dropped > 0
    assert len(lines) + dropped == 122
    # Waited for once (and once for the line it had begun), not by every request while
    # the reader stalled.
    assert len(waits) <= 2
    assert capfd.readouterr().err.splitlines() == [
        "daloy_edge: log sink StreamSink failed: BlockingIOError (reported once)"
    ]


def test_two_sinks_on_one_full_pipe_never_write_a_line_into_one_cut_before(
    nonblocking_pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch, fresh_complaints: None
) -> None:
    # Every app's request log has a sink of its own, all on stdout. The end of a line a
    # full pipe cut is the pipe's to finish, not one sink's: another app's next line,
    # written first, landed inside it (no JSON either).
    read, write = nonblocking_pipe
    monkeypatch.setattr(_sinks, "_PATIENCE", 0.05, raising=False)
    stream = io.TextIOWrapper(io.FileIO(write, "w", closefd=False), write_through=True)
    first, second = _sinks.StreamSink(stream), _sinks.StreamSink(stream)
    a_line = "a" * 10_000 + "\n"
    with pytest.raises(BlockingIOError):
        for _ in range(1000):  # until the pipe is full, a line begun and cut
            first.write_text(a_line)
    with pytest.raises(BlockingIOError):
        second.write_text("b" * 100 + "\n")  # still full: dropped, not spliced in
    received = bytearray()
    reader = drain_after(read, 0.0, received)
    for _ in range(500):  # until the reader has made room
        if len(received) > 60_000:
            break
        time.sleep(0.01)
    second.write_text("b" * 100 + "\n")
    hang_up(write)
    reader.join(10)
    lines = received.decode().splitlines()
    assert lines[-1] == "b" * 100
    assert set(lines[:-1]) == {"a" * 10_000}


def test_print_output_between_a_cut_line_and_its_end_lands_after_the_line(
    nonblocking_pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch, fresh_complaints: None
) -> None:
    # What print() leaves in stdout's buffer while a full pipe holds the end of a cut
    # line went out with the flush before that end: inside the line, no JSON either.
    read, write = nonblocking_pipe
    monkeypatch.setattr(_sinks, "_PATIENCE", 0.05, raising=False)
    stream = io.TextIOWrapper(io.BufferedWriter(io.FileIO(write, "w", closefd=False)))
    sink = _sinks.StreamSink(stream)
    os.write(write, b"x" * 60_000 + b"\n")
    sink.write_text("a" * 20_000 + "\n")  # cut: its end is kept for the next write
    stream.write("printed\n")  # buffered, as print() on a pipe leaves it
    received = bytearray()
    reader = drain_after(read, 0.0, received)
    for _ in range(500):  # until the reader has made room
        if len(received) >= 60_000:
            break
        time.sleep(0.01)
    sink.write_text("b" * 100 + "\n")
    hang_up(write)
    reader.join(10)
    assert received.decode().splitlines() == ["x" * 60_000, "a" * 20_000, "printed", "b" * 100]


# An observer and an on_rejected hook that raise, so each request reports failures.
FAILING_HOOKS = """
import os
from daloy_edge import App
from daloy_edge.testing import TestClient

class BrokenObserver:
    def on_request(self, request):
        raise RuntimeError("start")

    def on_response(self, request, response, duration, error):
        raise RuntimeError("end")

class BrokenMarker:
    async def __call__(self, request, call_next):
        return await call_next(request)

    def on_rejected(self, request, response):
        raise KeyError("marker")

app = App(env={}, request_log=False, observers=[BrokenObserver()], middleware=[BrokenMarker()])

@app.get("/ok")
async def ok(request):
    return {"ok": True}

client = TestClient(app)
statuses = [client.get(path).status_code for _ in range(5) for path in ("/ok", "/a/%2e%2e/b")]
os.write(1, f"statuses {statuses}\\n".encode())
"""


def run_failing_hooks(stderr: object, shell_suffix: str = "") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", FAILING_HOOKS]
    if shell_suffix:
        command = ["sh", "-c", f'exec "$0" -c "$1" {shell_suffix}', sys.executable, FAILING_HOOKS]
    return subprocess.run(
        command, stdout=subprocess.PIPE, stderr=stderr, env=env, timeout=60, check=False
    )


@pytest.mark.parametrize("stderr", ["/dev/full", "a closed pipe"])
def test_a_failing_observer_with_a_broken_stderr_still_answers_every_request(
    stderr: str,
) -> None:
    if stderr == "/dev/full":
        with open("/dev/full", "wb") as full:
            done = run_failing_hooks(full)
    else:
        read, write = os.pipe()
        os.close(read)
        try:
            done = run_failing_hooks(write)
        finally:
            os.close(write)
    assert done.returncode == 0
    assert done.stdout.decode() == f"statuses {[200, 400] * 5}\n"


def test_a_failing_observer_without_stderr_writes_nothing_into_the_stdout_log() -> None:
    done = run_failing_hooks(None, "2>&-")
    assert done.returncode == 0
    assert done.stdout.decode() == f"statuses {[200, 400] * 5}\n"


def test_a_failing_observer_is_reported_once_not_per_request() -> None:
    done = run_failing_hooks(subprocess.PIPE)
    assert done.stderr.decode().splitlines() == [
        "daloy_edge: observer BrokenObserver start failed: RuntimeError (reported once)",
        "daloy_edge: observer BrokenObserver failed: RuntimeError (reported once)",
        "daloy_edge: on_rejected of BrokenMarker failed: KeyError (reported once)",
    ]


# A thread writes a line longer than the pipe holds (so it blocks mid-line, holding the
# sinks' lock) when the main thread forks; the child then logs to a file of its own.
FORK_WHILE_A_THREAD_WRITES = """
import os, sys, threading, time
from daloy_edge.observability._sinks import StreamSink
from tests.support.children import hung

read, write = os.pipe()
busy = StreamSink(os.fdopen(write, "w"))
threading.Thread(target=busy.write, args=("x" * 1_000_000,), daemon=True).start()
time.sleep(0.3)
pid = os.fork()
if pid == 0:
    StreamSink(open(os.devnull, "w")).write("the child's line")
    os._exit(0)
print("hung" if hung(pid, 5) else "logged")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="this platform has no fork")
def test_a_child_forked_while_another_thread_writes_a_line_can_log() -> None:
    # The failure: every stdout sink writes under one process-wide lock, and a fork copies
    # it as it is. A child forked while another thread was writing (a multiprocessing
    # pool started from a threaded server, its stdout pipe slow to drain) held a copy of
    # the lock that no thread of the child would ever release: its first line hung it.
    done = subprocess.run(
        [sys.executable, "-c", FORK_WHILE_A_THREAD_WRITES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "logged", done.stderr


def test_a_failing_observer_without_stderr_writes_nothing_into_the_file_given_fd_2(
    tmp_path: Path,
) -> None:
    # Started with descriptor 2 closed, the app's next open() takes number 2: a report
    # written to descriptor 2 went into that file (or a Redis or HTTP connection).
    data = tmp_path / "data.jsonl"
    opening = f"data = open({str(data)!r}, 'w')\nassert data.fileno() == 2\n"
    script = FAILING_HOOKS.replace("client = TestClient(app)", f"{opening}client = TestClient(app)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["sh", "-c", 'exec "$0" -c "$1" 2>&-', sys.executable, script + "data.close()\n"],
        stdout=subprocess.PIPE,
        stderr=None,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.decode() == f"statuses {[200, 400] * 5}\n"
    assert data.read_text() == ""


def test_two_observers_failing_to_start_alike_are_each_reported() -> None:
    # Reported once per message, and the message named no observer: the second one
    # failing with the same exception type was never reported.
    script = FAILING_HOOKS.replace(
        "observers=[BrokenObserver()]", "observers=[BrokenObserver(), OtherObserver()]"
    ).replace(
        "class BrokenMarker:",
        "class OtherObserver:\n    def on_request(self, request):\n"
        "        raise RuntimeError('start')\n\nclass BrokenMarker:",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    reports = done.stderr.decode().splitlines()
    for name in ("BrokenObserver", "OtherObserver"):
        assert f"daloy_edge: observer {name} start failed: RuntimeError (reported once)" in reports
