"""A real redis-server and the Upstash REST shim in front of it, as test processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    """A redis-server child process on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, protocol=2, socket_timeout=5)

    def pause(self) -> None:
        """Freeze the server (it accepts connections but answers nothing)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
        _stop(self.process)


@dataclass
class ShimServer:
    """The Upstash REST shim child process."""

    process: subprocess.Popen[str]
    url: str
    token: str

    def stats(self) -> dict[str, object]:
        with urllib.request.urlopen(self.url + "/__shim/stats", timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def requests(self) -> int:
        return int(self.stats()["requests"])  # type: ignore[call-overload]

    def reset(self) -> None:
        request = urllib.request.Request(self.url + "/__shim/reset", method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def fail_next(
        self,
        status: int,
        body: str,
        *,
        content_type: str = "application/json",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` commands with this reply instead of running them."""
        fault = {"status": status, "body": body, "content_type": content_type, "times": times}
        request = urllib.request.Request(
            self.url + "/__shim/fault", data=json.dumps(fault).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5):
            pass

    def stop(self) -> None:
        _stop(self.process)


def _stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_redis(attempts: int = 5) -> RedisServer:
    """Start redis-server on a free port (no persistence) and wait for PING."""
    for _ in range(attempts):
        port = free_port()
        process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxclients",
                "4096",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = RedisServer(process, port)
        if _wait_for_ping(server):
            return server
        server.stop()
    raise RuntimeError("redis-server did not start")


def _wait_for_ping(server: RedisServer, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        with contextlib.suppress(redis.ConnectionError):
            if server.client().ping():
                return True
        time.sleep(0.02)
    return False


def start_shim(redis_url: str, token: str = "test-token") -> ShimServer:
    """Start the shim as ``python -m tests.support.upstash_shim`` and read its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.upstash_shim",
            "--redis-url",
            redis_url,
            "--token",
            token,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("UPSTASH_SHIM_URL="):
        process.kill()
        process.wait()
        raise RuntimeError(f"the Upstash shim did not start: {line!r}")
    return ShimServer(process, line.split("=", 1)[1], token)


@contextlib.contextmanager
def redis_and_shim(token: str = "test-token") -> Iterator[tuple[RedisServer, ShimServer]]:
    """A fresh redis-server with a shim in front; both stopped on exit."""
    server = start_redis()
    try:
        shim = start_shim(server.url, token)
        try:
            yield server, shim
        finally:
            shim.stop()
    finally:
        server.stop()
