"""Real servers in child processes: uvicorn, functions-framework and awslambdaric.

Each listens on 127.0.0.1 only and is stopped by its own process id.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from daloy_edge import Headers
from tests.conformance.harness import gateways
from tests.conformance.harness.client import Reply, Transport
from tests.conformance.harness.runtime_api import RuntimeAPI

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A child process with its output kept in a log file for failure reports."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        child_env = {**os.environ, **env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log_file.close()


def _wait_http(server: ServerProcess, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"{server.name} exited during start-up:\n{server.tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{server.name} did not answer within {START_TIMEOUT_S}s:\n{server.tail()}")


class HTTPTransport(Transport):
    """Plain HTTP/1.1 to a server on 127.0.0.1; the request target goes out byte for byte."""

    def __init__(self, name: str, port: int, server: ServerProcess) -> None:
        self.name = name
        self.port = port
        self.server = server

    def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        source = (self.client, 0) if self.client else None
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=source)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            response = conn.getresponse()
            payload = response.read()
            return Reply(response.status, Headers(response.getheaders()), payload)
        finally:
            conn.close()

    def with_client(self, address: str) -> Transport | None:
        # Any 127.0.0.0/8 address is this machine: connect from it, and the server
        # sees it as the peer.
        if ipaddress.ip_address(address) not in ipaddress.ip_network("127.0.0.0/8"):
            return None
        return self._view(address)

    def close(self) -> None:
        self.server.stop()


def _start_http(
    name: str, argv_for: Callable[[int], list[str]], env: Mapping[str, str], log: Path
) -> HTTPTransport:
    # A free port can be taken between probing and binding; try a few before giving up.
    error: Exception | None = None
    for _ in range(3):
        port = free_port()
        server = ServerProcess(name, argv_for(port), env, log)
        try:
            _wait_http(server, port)
        except RuntimeError as exc:
            server.stop()
            error = exc
            continue
        return HTTPTransport(name, port, server)
    raise RuntimeError(f"{name} did not start") from error


def start_uvicorn(module: str, env: Mapping[str, str], log: Path) -> HTTPTransport:
    return _start_http("uvicorn", lambda port: _uvicorn_argv(module, port), env, log)


def _uvicorn_argv(module: str, port: int) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        f"{module}:asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "on",
        "--log-level",
        "warning",
        "--no-access-log",
        # Deployed as documented: only DALOY_TRUSTED_PROXIES decides whose forwarding
        # headers count (uvicorn would believe X-Forwarded-For from 127.0.0.1 itself).
        "--no-proxy-headers",
        # Let header blocks up to the app's own limits through, so the app decides.
        "--h11-max-incomplete-event-size",
        "131072",
    ]


def start_functions_framework(source: Path, env: Mapping[str, str], log: Path) -> HTTPTransport:
    return _start_http(
        "functions-framework",
        lambda port: _functions_framework_argv(source, port),
        {**env, "WORKERS": "1"},
        log,
    )


def _functions_framework_argv(source: Path, port: int) -> list[str]:
    return [
        str(BIN / "functions-framework"),
        "--source",
        str(source),
        "--target",
        "gcf_handler",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


class RuntimeClientTransport(Transport):
    """The real awslambdaric runtime loop, fed events through the local Runtime API."""

    def __init__(self, shape: str, api: RuntimeAPI, server: ServerProcess) -> None:
        self.name = f"awslambdaric-{shape}"
        self.shape = shape
        self.api = api
        self.server = server

    def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        client = self.client or gateways.CLIENT_IP
        event = gateways.build_event(self.shape, method, target, headers, body, client)
        if not self.server.alive():
            raise RuntimeError(f"awslambdaric exited:\n{self.server.tail()}")
        result: dict[str, Any] = self.api.invoke(event)
        return gateways.read_result(self.shape, result)

    def with_client(self, address: str) -> Transport | None:
        if self.shape not in gateways.SHAPES_WITH_CLIENT_ADDRESS:
            return None
        return self._view(address)

    def close(self) -> None:
        self.server.stop()
        self.api.stop()


def start_awslambdaric(
    handler: str, shape: str, env: Mapping[str, str], log: Path
) -> RuntimeClientTransport:
    api = RuntimeAPI().start()
    argv = [sys.executable, "-m", "awslambdaric", handler]
    runtime_env = {
        **env,
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": "conformance",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/conformance",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
    }
    server = ServerProcess("awslambdaric", argv, runtime_env, log)
    transport = RuntimeClientTransport(shape, api, server)
    try:
        # The first event waits in the queue until the runtime has imported the handler.
        transport.get("/health")
    except Exception as exc:
        transport.close()
        detail = api.init_errors[0] if api.init_errors else b""
        raise RuntimeError(
            f"awslambdaric did not serve: {exc} {detail!r}\n{server.tail()}"
        ) from exc
    return transport
