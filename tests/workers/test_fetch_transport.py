"""FetchTransport (js.fetch inside Pyodide) against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.workers import PyodideHarness

pytestmark = pytest.mark.slow

RELEASE = threading.Event()
"""Set to let ``/held`` answer: until then the upstream holds the request."""


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        size = int(query.split("=")[1]) if query.startswith("n=") else 0
        if path == "/json":
            self._send(200, b'{"ok":true}', {"content-type": "application/json", "x-upstream": "1"})
        elif path == "/cookies":
            self.send_response(200)
            self.send_header("set-cookie", "a=1; Path=/")
            self.send_header("set-cookie", "b=2; Path=/")
            self.send_header("content-length", "0")
            self.end_headers()
        elif path == "/redirect":
            self._send(302, b"", {"location": "/json"})
        elif path == "/big":
            self._send(200, b"b" * size)
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for _ in range(size // 1024):
                self.wfile.write(b"400\r\n" + b"c" * 1024 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/held":
            RELEASE.wait(30)
            self._send(200, b"late")
        elif path == "/slow":
            time.sleep(2)
            self._send(200, b"late")
        elif path == "/slow-body":
            self.send_response(200)
            self.send_header("content-length", "10")
            self.end_headers()
            self.wfile.write(b"12345")
            self.wfile.flush()
            time.sleep(2)
            self.wfile.write(b"67890")
        else:
            self._send(404, b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        seen = {
            "method": self.command,
            "body": body.decode(),
            "authorization": self.headers.get("authorization"),
            "content_type": self.headers.get("content-type"),
        }
        self._send(201, json.dumps(seen).encode(), {"content-type": "application/json"})


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def send(harness: PyodideHarness, call: str) -> Any:
    """Run ``await transport.request(...)`` given as ``call`` and describe the outcome."""
    return harness.run(
        f"""
from daloy_edge.transport import TransportError
from daloy_edge_cloudflare import FetchTransport

async def main():
    transport = FetchTransport()
    try:
        response = await transport.{call}
    except TransportError as exc:
        return {{"error": str(exc)}}
    return {{"status": response.status, "headers": dict(response.headers),
             "body": response.body.decode("latin-1")}}
"""
    )


def test_get_returns_status_headers_and_body(
    workers_harness: PyodideHarness, upstream: str
) -> None:
    result = send(workers_harness, f'request("GET", "{upstream}/json")')
    assert result["status"] == 200 and result["body"] == '{"ok":true}'
    assert result["headers"]["x-upstream"] == "1"


def test_post_sends_method_headers_and_body(workers_harness: PyodideHarness, upstream: str) -> None:
    result = send(
        workers_harness,
        f'request("POST", "{upstream}/echo", body=b\'["GET","k"]\', '
        'headers={"authorization": "Bearer t0k", "content-type": "application/json"})',
    )
    assert result["status"] == 201
    assert json.loads(result["body"]) == {
        "method": "POST",
        "body": '["GET","k"]',
        "authorization": "Bearer t0k",
        "content_type": "application/json",
    }


def test_redirect_is_returned_not_followed(workers_harness: PyodideHarness, upstream: str) -> None:
    result = send(workers_harness, f'request("GET", "{upstream}/redirect")')
    assert result["status"] == 302 and result["headers"]["location"] == "/json"


def test_declared_oversize_response_is_refused(
    workers_harness: PyodideHarness, upstream: str
) -> None:
    result = send(workers_harness, f'request("GET", "{upstream}/big?n=5000", max_bytes=4096)')
    assert result == {"error": "response too large"}


def test_streamed_oversize_response_is_cut_off(
    workers_harness: PyodideHarness, upstream: str
) -> None:
    result = send(workers_harness, f'request("GET", "{upstream}/chunked?n=65536", max_bytes=4096)')
    assert result == {"error": "response too large"}


def test_response_at_the_bound_is_read_whole(
    workers_harness: PyodideHarness, upstream: str
) -> None:
    result = send(workers_harness, f'request("GET", "{upstream}/big?n=4096", max_bytes=4096)')
    assert result["status"] == 200 and len(result["body"]) == 4096


def test_slow_upstream_times_out(workers_harness: PyodideHarness, upstream: str) -> None:
    started = time.monotonic()
    result = send(workers_harness, f'request("GET", "{upstream}/slow", timeout=0.3)')
    assert result == {"error": "timeout"} and time.monotonic() - started < 1.5


def test_timeout_covers_a_slow_body(workers_harness: PyodideHarness, upstream: str) -> None:
    started = time.monotonic()
    result = send(workers_harness, f'request("GET", "{upstream}/slow-body", timeout=0.3)')
    assert result == {"error": "timeout"} and time.monotonic() - started < 1.5


@pytest.mark.parametrize("timeout", ["float('inf')", "1e10"])
def test_a_timeout_past_the_longest_timer_means_no_limit(
    workers_harness: PyodideHarness, upstream: str, timeout: str
) -> None:
    # AbortSignal.timeout takes milliseconds up to 2**31 - 1: inf raised OverflowError
    # out of int() and made every call a 500 where HttpxTransport waited for good.
    result = send(workers_harness, f'request("GET", "{upstream}/json", timeout={timeout})')
    assert result["status"] == 200 and result["body"] == '{"ok":true}'


def test_repeated_set_cookie_lines_are_all_kept(
    workers_harness: PyodideHarness, upstream: str
) -> None:
    # Headers yields each Set-Cookie line apart from the others: read into a dict, the
    # last one replaced the first. HttpxTransport joins them with ", ".
    result = send(workers_harness, f'request("GET", "{upstream}/cookies")')
    assert result["headers"]["set-cookie"] == "a=1; Path=/, b=2; Path=/"


def test_refused_connection_is_a_transport_error(workers_harness: PyodideHarness) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = send(workers_harness, f'request("GET", "http://127.0.0.1:{port}/")')
    assert set(result) == {"error"}


def test_guard_without_policy_only_transport_names_the_fix_not_the_http_extra(
    workers_harness: PyodideHarness, upstream: str
) -> None:
    # Without policy_only_transport the guard is GuardedClient, which resolves names and
    # opens sockets: a Worker can do neither, so installing httpx (the 'http' extra the
    # error named) could not help. Every request through such a guard fails.
    result = workers_harness.run(
        f"""
from daloy_edge.egress import fetch_guard

async def main():
    guard = fetch_guard(allow_hosts=["127.0.0.1"], allow_cidrs=["127.0.0.1/32"], ports=None)
    try:
        await guard.client.get("{upstream}/json")
    except Exception as exc:
        return {{"type": type(exc).__name__, "message": str(exc)}}
    return {{"type": None}}
"""
    )
    assert result["type"] == "RuntimeError"
    assert "policy_only_transport=FetchTransport()" in result["message"]
    assert "pip install" not in result["message"]


def test_a_fetch_its_caller_gave_up_on_settles_later_with_nothing_uncaught(
    workers_harness: PyodideHarness, upstream: str
) -> None:
    # A caller's own timeout (the JWKS client's wait_for, the request deadline) cancels
    # the fetch it awaits; the fetch still answers later. Pyodide 0.26.0a, the Python of
    # Workers with the bare python_workers flag, then set the result of the cancelled
    # future and raised InvalidStateError in the promise's reaction, uncaught.
    outcome = workers_harness.run(
        f"""
import asyncio

from daloy_edge_cloudflare import FetchTransport

async def main():
    call = FetchTransport().request("GET", "{upstream}/slow", timeout=10)
    try:
        await asyncio.wait_for(call, 0.2)
    except TimeoutError:
        pass
    await asyncio.sleep(2.5)
    return "gave up"
"""
    )
    assert outcome == "gave up"
    assert workers_harness.run("async def main():\n    return 1") == 1


def test_a_fetch_the_deadline_gave_up_on_holds_no_request_context_until_it_settles(
    workers_harness: PyodideHarness, upstream: str
) -> None:
    # Pyodide hands a JS promise over as a future whose done callbacks keep the context
    # they were added in until it settles: 20 requests whose deadline cut their fetch to
    # a slow upstream short were answered 504, and each kept its log record (and every
    # context variable) until the upstream answered or the fetch's own timeout.
    RELEASE.clear()
    try:
        statuses = workers_harness.run(
            f"""
import asyncio

import js
from daloy_edge import App
from daloy_edge_cloudflare import FetchTransport, WorkersApp
from daloy_edge_cloudflare._js import js_object

app = App(environment="production", request_timeout=0.2)

@app.get("/call")
async def call(request):
    await FetchTransport().request("GET", "{upstream}/held", timeout=30)
    return {{"called": True}}

served = WorkersApp(app)

async def one(n):
    headers = js_object({{"x-request-id": f"held-probe-fetch-{{n}}"}})
    request = js.Request.new("https://worker.example/call", js_object({{"headers": headers}}))
    return (await served.fetch(request, js.Object.new())).status

async def main():
    return await asyncio.gather(*(one(n) for n in range(20)))
"""
        )
        assert statuses == [504] * 20
        held = workers_harness.run(
            """
import gc

from daloy_edge.observability._logger import _Active

async def main():
    gc.collect()
    return sum(
        1
        for held in gc.get_objects()
        if isinstance(held, _Active)
        and str(getattr(held, "request_id", "")).startswith("held-probe-fetch-")
    )
"""
        )
        assert held == 0
    finally:
        RELEASE.set()
