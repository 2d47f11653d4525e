"""HttpxTransport: every failure to complete a request is a TransportError."""

from __future__ import annotations

import contextlib
import gzip
import socket
import sys
import threading
import tracemalloc

import pytest

from daloy_edge.transport import HttpxTransport, TransportError
from tests.upstream import tls_contexts


@pytest.mark.parametrize(
    "url", ["https://xn--zz.example/jwks.json", "https://xn--a.example/", "http://127.0.0.1/a\nb"]
)
async def test_url_httpx_cannot_parse_is_a_transport_error_not_a_crash(url):
    transport = HttpxTransport()
    try:
        with pytest.raises(TransportError):
            await transport.request("GET", url)
    finally:
        await transport.aclose()


def serve_once(head: bytes, body: bytes) -> tuple[str, threading.Thread]:
    """A server on 127.0.0.1 answering one request with ``head`` and ``body`` as given."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with listener, listener.accept()[0] as conn:
            conn.recv(65536)
            conn.sendall(
                head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
            )

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/", thread


async def test_a_certificate_that_fails_to_verify_is_a_transport_error(tmp_path):
    # httpcore before 1.0.6 let the ssl error out of httpx unmapped: a JWKS endpoint with
    # a bad certificate made every request a 500, each with a new handshake to the IdP.
    server_tls, _ = tls_contexts("other.test", str(tmp_path))
    listener = socket.create_server(("127.0.0.1", 0))

    def handshake() -> None:
        with listener, listener.accept()[0] as conn, contextlib.suppress(OSError):
            server_tls.wrap_socket(conn, server_side=True).close()

    threading.Thread(target=handshake, daemon=True).start()
    with pytest.raises(TransportError):
        await fetch(f"https://127.0.0.1:{listener.getsockname()[1]}/")


async def fetch(url: str, max_bytes: int = 1024 * 1024) -> bytes:
    transport = HttpxTransport()
    try:
        return (await transport.request("GET", url, max_bytes=max_bytes)).body
    finally:
        await transport.aclose()


async def test_a_gzip_body_is_inflated():
    url, _ = serve_once(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n", gzip.compress(b"k" * 5000)
    )
    assert await fetch(url) == b"k" * 5000


async def test_a_gzip_bomb_is_refused_before_it_is_inflated_past_the_bound():
    # 10 MB of zeros in about 10 KB: httpx inflated each network chunk whole before the
    # size could be counted (1.7 KB of brotli reached 1 GiB).
    bomb = gzip.compress(bytes(10 * 1024 * 1024), compresslevel=9)
    url, _ = serve_once(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n", bomb)
    tracemalloc.start()
    try:
        with pytest.raises(TransportError, match="too large"):
            await fetch(url, max_bytes=64 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024  # never the 10 MB the body inflates to


@pytest.mark.parametrize("coding", [b"br", b"zstd", b"gzip, br"])
async def test_a_coding_that_cannot_be_inflated_bounded_is_refused(coding: bytes):
    url, _ = serve_once(b"HTTP/1.1 200 OK\r\nContent-Encoding: " + coding + b"\r\n", b"\x1b\x00")
    with pytest.raises(TransportError, match="unsupported content-encoding"):
        await fetch(url)


async def test_a_corrupt_gzip_body_is_a_transport_error():
    url, _ = serve_once(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n", b"not gzip at all")
    with pytest.raises(TransportError, match="undecodable"):
        await fetch(url)


def test_a_thread_per_request_server_leaves_no_loop_and_client_behind():
    # Flask's development server (functions-framework --debug) runs each request on a
    # new thread, and the GCF adapter gives each thread an event loop of its own.
    import asyncio

    transport = HttpxTransport()

    def request_on_a_new_thread() -> None:
        url, _ = serve_once(b"HTTP/1.1 200 OK\r\n", b"ok")
        loop = asyncio.new_event_loop()
        assert loop.run_until_complete(transport.request("GET", url)).body == b"ok"

    for _ in range(5):
        thread = threading.Thread(target=request_on_a_new_thread)
        thread.start()
        thread.join()
    assert len(transport._clients) == 1


async def test_a_request_without_httpx_installed_names_the_http_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "httpx" or m.startswith("httpx.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'daloy-edge\[http\]'"):
        await HttpxTransport().request("GET", "http://127.0.0.1:9/")
