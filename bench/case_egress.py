"""Cost of the egress guard: policy checks, a guarded loopback fetch, and the import.

Anchors: the naive check many apps write (``urlsplit`` + ``ipaddress.is_global``, which
misses the encodings the policy refuses), a plain ``httpx.AsyncClient`` for the same
loopback fetch, and ``import daloy_edge`` for the import. The fetch talks to a keep-alive
server on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench._timing import Row, interleaved_us, reps, with_ratio
from daloy_edge.egress import EgressPolicy, GuardedClient

ROOT = Path(__file__).resolve().parent.parent
POLICY = EgressPolicy(allow_hosts=("*.example.com", "api.example.org"))
LOCAL = EgressPolicy(ports=None, allow_cidrs=("127.0.0.1/32",))
NAME_URL = "https://api.example.com/v1/items?page=2"
V6_URL = "https://[2606:4700:4700::1111]/dns-query"


def _naive(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return True


def _policy_rows() -> list[Row]:
    six_to_four = "2002:808:808::1"
    address = ipaddress.ip_address
    cases = [
        ("check URL (name)", "EgressPolicy.check_url", lambda: POLICY.check_url(NAME_URL)),
        ("check URL (name)", "naive urlsplit+is_global", lambda: _naive(NAME_URL)),
        ("check URL (IPv6)", "EgressPolicy.check_url", lambda: LOCAL.check_url(V6_URL)),
        ("check URL (IPv6)", "naive urlsplit+is_global", lambda: _naive(V6_URL)),
        ("vet 6to4", "EgressPolicy.check_address", lambda: LOCAL.check_address(six_to_four)),
        ("vet 6to4", "ipaddress is_global", lambda: address(six_to_four).is_global),
    ]
    rows = []
    for case in dict.fromkeys(c for c, _, _ in cases):
        timings = interleaved_us({name: fn for c, name, fn in cases if c == case})
        rows += [Row(case, name, us) for name, us in timings.items()]
    return rows


async def _keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _fetch_rows() -> list[Row]:
    import httpx

    server = await asyncio.start_server(_keep_alive, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    guarded = GuardedClient(LOCAL)
    plain = httpx.AsyncClient(trust_env=False)
    contenders = {"GuardedClient.get": guarded.get, "httpx.AsyncClient.get": plain.get}
    number = reps(300, 60)
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for get in contenders.values():
        for _ in range(20):
            await get(url)
    for _ in range(reps(5, 3)):  # in turns, so load changes hit both alike
        for name, get in contenders.items():
            start = time.perf_counter()
            for _ in range(number):
                await get(url)
            samples[name].append((time.perf_counter() - start) / number * 1e6)
    rows = [
        Row("loopback GET (keep-alive)", name, statistics.median(values))
        for name, values in samples.items()
    ]
    await guarded.aclose()
    await plain.aclose()
    await asyncio.sleep(0.05)  # let the server see both connections close
    server.close()
    await server.wait_closed()
    return rows


def _import_us(module: str) -> float:
    repeat = reps(5, 3)
    samples = []
    for _ in range(repeat):
        code = f"import time; s = time.perf_counter(); import {module}; "
        code += "print(time.perf_counter() - s)"
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout) * 1e6)
    return sorted(samples)[repeat // 2]


def run() -> list[Row]:
    """Policy checks, a guarded loopback fetch against plain httpx, and the import cost."""
    rows = _policy_rows()
    rows += asyncio.run(_fetch_rows())
    rows += [
        Row("cold import", "import daloy_edge.egress", _import_us("daloy_edge.egress")),
        Row("cold import", "import daloy_edge", _import_us("daloy_edge")),
    ]
    anchors = with_ratio(rows, "naive urlsplit+is_global")
    anchors = with_ratio(anchors, "ipaddress is_global")
    anchors = with_ratio(anchors, "httpx.AsyncClient.get")
    return with_ratio(anchors, "import daloy_edge")
