"""HTTP load for the ASGI case: ``wrk`` when installed, else a small asyncio client.

Both keep ``connections`` HTTP/1.1 keep-alive connections busy with ``GET`` for a bounded
time, against 127.0.0.1 only, in a process of their own (the other core).
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Load:
    """What one load run measured."""

    requests_per_s: float
    p50_ms: float
    non_2xx: int
    tool: str


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _wrk(wrk: str, url: str, seconds: float, connections: int) -> Load:
    args = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    if rps is None or p50 is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    failures = int(bad.group(1)) if bad else 0
    if errors:
        failures += sum(int(n) for n in re.findall(r"\d+", errors.group(0)))
    p50_ms = float(p50.group(1)) * _UNITS[p50.group(2)]
    return Load(float(rps.group(1)), p50_ms, failures, "wrk")


def run_load(wrk: str | None, url: str, seconds: float, connections: int = 32) -> Load:
    """One bounded load run against ``url`` (which must be on 127.0.0.1)."""
    if urlsplit(url).hostname != "127.0.0.1":
        raise ValueError("load runs target 127.0.0.1 only")
    if wrk:
        return _wrk(wrk, url, seconds, connections)
    args = [sys.executable, "-m", "bench._load", url, str(seconds), str(connections)]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return Load(**json.loads(out))


async def _connection(host: str, port: int, request: bytes, stop: float, lat: list[float]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    failures = 0
    try:
        while time.perf_counter() < stop:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            lat.append(time.perf_counter() - start)
            failures += not head.startswith((b"HTTP/1.1 2", b"HTTP/1.1 3"))
    finally:
        writer.close()
    return failures


async def _client(url: str, seconds: float, connections: int) -> Load:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    latencies: list[float] = []
    start = time.perf_counter()
    stop = start + seconds
    counts = await asyncio.gather(
        *(_connection(host, port, request, stop, latencies) for _ in range(connections))
    )
    elapsed = time.perf_counter() - start
    p50 = statistics.median(latencies) * 1000
    return Load(len(latencies) / elapsed, p50, sum(counts), "asyncio client")


if __name__ == "__main__":
    target, duration, conns = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(_client(target, duration, conns)).__dict__))
