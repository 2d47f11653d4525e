"""Random bytes for ids come from blocks of kernel output, each byte handed out once."""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
import threading

import pytest

from daloy_edge import _idbytes
from daloy_edge._idbytes import BLOCK, id_bytes


class CountingSource:
    """Stands in for ``os.urandom``: numbered bytes, so overlapping draws show."""

    def __init__(self) -> None:
        self.calls = 0
        self._next = itertools.count()

    def __call__(self, n: int) -> bytes:
        self.calls += 1
        return b"".join(next(self._next).to_bytes(4, "big") for _ in range(n // 4))


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> CountingSource:
    fake = CountingSource()
    monkeypatch.setattr(_idbytes.os, "urandom", fake)
    monkeypatch.setattr(_idbytes, "_block", io.BytesIO())
    return fake


@pytest.mark.parametrize("n", [0, 1, 8, 16, 20, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK])
def test_each_draw_has_the_length_asked_for(n: int) -> None:
    assert len(id_bytes(n)) == n
    assert len(id_bytes(n)) == n


def test_draws_are_consecutive_slices_of_the_kernel_output(source: CountingSource) -> None:
    draws = [id_bytes(16) for _ in range(3 * BLOCK // 16)]
    words = [int.from_bytes(d[i : i + 4], "big") for d in draws for i in range(0, 16, 4)]
    assert words == list(range(len(words)))  # no byte handed out twice, none skipped
    assert source.calls == 3  # one kernel call per block, not one per draw


def test_a_draw_that_does_not_fit_takes_a_fresh_block(source: CountingSource) -> None:
    first = id_bytes(BLOCK - 8)
    second = id_bytes(16)  # 8 bytes were left: dropped, never split across two blocks
    assert source.calls == 2
    assert int.from_bytes(second[:4], "big") == BLOCK // 4
    assert not set(_words(first)) & set(_words(second))


def test_threads_never_draw_the_same_bytes() -> None:
    # The attack: two requests sharing an id, so one's trace and log lines (and the
    # request id a client quotes to support) are taken for the other's.
    drawn: list[list[bytes]] = [[] for _ in range(8)]

    def draw(into: list[bytes]) -> None:
        for _ in range(2000):
            into.append(id_bytes(16))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [d for into in drawn for d in into]
    assert len(set(every)) == len(every) == 16000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="this platform has no fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    # The attack: a pre-forking server's workers handing out the same ids, so one
    # request's trace and log lines are taken for another's.
    # In a child process of its own: forking the test runner, with its threads, is unsafe.
    code = """
import os
from daloy_edge._idbytes import id_bytes
id_bytes(16)  # the parent's block is now filled
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, id_bytes(16))
    os._exit(0)
os.waitpid(pid, 0)
child = os.read(read, 16)
print(child.hex(), id_bytes(16).hex())
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    child, parent = done.stdout.split()
    assert len(child) == len(parent) == 32
    assert child != parent


def test_request_and_trace_ids_draw_from_the_block(source: CountingSource) -> None:
    from daloy_edge._app import new_request_id
    from daloy_edge.observability._trace import fresh_ids

    new_request_id()
    fresh_ids()
    new_request_id()
    assert source.calls == 1


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 4], "big") for i in range(0, len(data), 4)]
