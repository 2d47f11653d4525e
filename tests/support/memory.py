"""Resource checks on a server process: peak RSS from /proc, and a streamed request body.

Linux only (``/proc``). Clients here talk to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024


def rss_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


@dataclass
class PeakRSS:
    """RSS of a process before, at its peak during, and after a block (bytes)."""

    before: int = 0
    peak: int = 0
    after: int = 0

    @property
    def growth(self) -> int:
        """How far the peak rose above the RSS before the block."""
        return max(0, self.peak - self.before)


def _reset_peak(pid: int) -> bool:
    # Writing 5 to clear_refs restarts VmHWM from the current RSS (Linux >= 4.0).
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextlib.contextmanager
def peak_rss(pid: int, every: float = 0.005) -> Iterator[PeakRSS]:
    """Watch ``pid``'s RSS during the block: VmHWM when it can be reset, else polling."""
    result = PeakRSS(before=rss_kib(pid)["VmRSS"] * 1024)
    exact = _reset_peak(pid)
    stop = threading.Event()
    polled = [result.before]

    def poll() -> None:
        while not stop.wait(every):
            polled.append(rss_kib(pid)["VmRSS"] * 1024)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        yield result
    finally:
        stop.set()
        poller.join()
        status = rss_kib(pid)
        result.after = status["VmRSS"] * 1024
        result.peak = max(*polled, status["VmHWM"] * 1024 if exact else 0)


@dataclass(frozen=True)
class Streamed:
    """What a streamed upload got back."""

    status: int
    sent: int
    response: bytes


def _head_complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return length is None or len(body) >= int(length.group(1))


def stream_chunked(
    port: int,
    path: str,
    total: int,
    *,
    headers: Mapping[str, str] = {},
    chunk: int = 64 * 1024,
    timeout: float = 60.0,
) -> Streamed:
    """POST ``total`` bytes to 127.0.0.1:``port`` with chunked transfer encoding.

    Sends while it can and stops as soon as the server has answered, so a server that
    refuses early gets no more than what was in flight.
    """
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}"
    head += "Transfer-Encoding: chunked\r\n\r\n"
    frame = b"%x\r\n%s\r\n" % (chunk, b"a" * chunk)
    sent, pending, received = 0, head.encode(), b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            while not _head_complete(received):
                events = selector.select(timeout)
                if not events:
                    raise TimeoutError(f"no progress after {sent} bytes")
                mask = events[0][1]
                if mask & selectors.EVENT_READ:
                    try:
                        data = sock.recv(65536)
                    except ConnectionResetError:
                        break
                    if not data:
                        break
                    received += data
                    continue
                if not pending:
                    if sent >= total:
                        selector.modify(sock, selectors.EVENT_READ)
                        continue
                    pending, sent = frame, sent + chunk
                    if sent >= total:
                        pending += b"0\r\n\r\n"
                try:
                    pending = pending[sock.send(pending) :]
                except (BrokenPipeError, ConnectionResetError):
                    selector.modify(sock, selectors.EVENT_READ)
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else 0
    return Streamed(status, sent, received)
