"""A copy of the process (a forked worker, a SnapStart restore) never uses the event loops
or pooled connections the original made."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from daloy_edge import _copies, _runner
from daloy_edge._runner import Runner
from daloy_edge.egress import EgressPolicy, GuardedClient
from daloy_edge.transport import HttpxTransport


class KeepAliveServer:
    """Answers each request with its own path (after 0.2 s for paths holding "slow") and
    keeps the connection open for the next, as an identity provider or a store does."""

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> KeepAliveServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            path = line.split()[1]
            while await reader.readline() not in (b"\r\n", b""):
                pass
            await asyncio.sleep(0.2 if b"slow" in path else 0)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(path), path))
            await writer.drain()
        writer.close()


@pytest.fixture(scope="module")
def server() -> Iterator[KeepAliveServer]:
    with KeepAliveServer() as running:
        yield running


FORK_AFTER_A_REQUEST = """
import os, sys
from daloy_edge._runner import Runner
from daloy_edge.transport import HttpxTransport

origin = sys.argv[1]
runner, transport = Runner(), HttpxTransport()  # the Lambda adapter's, one per container
runner.run(transport.request("GET", origin + "/warm"))  # one connection now pooled
pid = os.fork()
side = "child" if pid == 0 else "parent"
wrong = []
for i in range(5):
    asked = f"/slow-{side}-{i}"
    try:
        got = runner.run(transport.request("GET", origin + asked, timeout=5)).body.decode()
    except Exception as exc:
        got = type(exc).__name__
    if got != asked:
        wrong.append(f"{asked} got {got}")
print(side, wrong, flush=True)
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="this platform has no fork")
def test_a_forked_child_never_reads_its_parents_answers(server: KeepAliveServer) -> None:
    # The attack on a process forked after serving (a multiprocessing child of a Lambda
    # function, a worker of a server that warmed up before forking): both wrote requests
    # on the one pooled connection, and each read whichever answer came first, the
    # parent's JWKS or rate-limit reply going to the child. The child also registered
    # its sockets in the epoll instance the parent polls ("File exists").
    # In a child process of its own: forking the test runner, with its threads, is unsafe.
    done = subprocess.run(
        [sys.executable, "-c", FORK_AFTER_A_REQUEST, f"http://127.0.0.1:{server.port}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert sorted(done.stdout.splitlines()) == ["child []", "parent []"], done.stderr


def test_a_forked_copy_runs_on_a_loop_of_its_own_and_leaves_the_original_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = Runner()
    before = runner.event_loop()
    monkeypatch.setattr(_runner, "getpid", lambda: os.getpid() + 1)  # the child's
    _copies.generation += 1
    try:
        after = runner.event_loop()
        # Closing it would have taken the original's descriptors out of the epoll
        # instance the two processes share.
        assert after is not before
        assert not before.is_closed()
        assert before in _copies._kept
        assert runner.event_loop() is after
    finally:
        _copies.generation -= 1
        _copies._kept.remove(before)
        before.close()
        after.close()


def test_a_restored_copy_keeps_its_loop_and_what_is_bound_to_it() -> None:
    # A SnapStart restore: the same process on a machine of its own, no epoll shared.
    runner = Runner()
    before = runner.event_loop()
    _copies.generation += 1
    try:
        assert runner.event_loop() is before
        assert before not in _copies._kept
    finally:
        _copies.generation -= 1
        before.close()


async def _clients_across_a_copy(transport: HttpxTransport) -> tuple[object, object]:
    first = transport._get_client()
    _copies.generation += 1
    try:
        return first, transport._get_client()
    finally:
        _copies.generation -= 1


def test_a_copy_pools_no_connection_the_transport_made_before() -> None:
    transport = HttpxTransport()
    before, after = asyncio.run(_clients_across_a_copy(transport))
    assert after is not before


def test_a_copy_pools_no_connection_the_egress_client_made_before() -> None:
    client = GuardedClient(EgressPolicy())

    async def across() -> tuple[object, object]:
        first = client._current_transport()
        _copies.generation += 1
        try:
            return first, client._current_transport()
        finally:
            _copies.generation -= 1

    before, after = asyncio.run(across())
    assert after is not before
