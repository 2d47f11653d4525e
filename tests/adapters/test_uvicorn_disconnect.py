"""Answers cut short, against a real uvicorn: clients that hang up in the middle of a
chunked upload or of an endless streamed response, and a streamed body that fails."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from daloy_edge_asgi import ASGIApp

from daloy_edge import App, Request, Response
from tests.support.uvicorn_thread import serve

pytestmark = pytest.mark.slow


class Finished:
    """Records the status of every request the app finishes."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.event = threading.Event()

    def on_response(
        self, request: Request, response: Response, duration_s: float, error: BaseException | None
    ) -> None:
        self.statuses.append(response.status)
        self.event.set()


STREAM_STOPPED = threading.Event()


class Calls:
    """The ASGI app as the server calls it, recording what each HTTP call raised."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raised: list[BaseException] = []
        self.ended = threading.Event()

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            self.raised.append(exc)
            raise
        finally:
            if scope["type"] == "http":
                self.ended.set()


CALLS: list[Calls] = []


@pytest.fixture
def served() -> Iterator[tuple[int, Finished, list[bytes]]]:
    finished, bodies = Finished(), []
    app = App(request_log=False, observers=[finished])

    @app.post("/upload")
    async def upload(request: Request) -> object:
        bodies.append(await request.body())
        return {}

    @app.get("/endless")
    async def endless(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"x" * 1024
                    await asyncio.sleep(0.001)
            finally:
                STREAM_STOPPED.set()

        return Response(stream=chunks(), media_type="text/plain")

    @app.get("/cut")
    async def cut(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first"
            raise RuntimeError("upstream said password=hunter2-mid-stream")

        return Response(stream=chunks(), media_type="text/plain")

    @app.get("/close-fails")
    async def close_fails(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"x" * 1024
                    await asyncio.sleep(0.001)
            finally:
                raise RuntimeError("cursor close said password=hunter2-on-close")

        return Response(stream=chunks(), media_type="text/plain")

    calls = Calls(ASGIApp(app))
    CALLS[:] = [calls]
    with serve(calls, http="h11") as port:
        yield port, finished, bodies


def test_a_chunked_body_cut_short_never_reaches_the_handler(
    served: tuple[int, Finished, list[bytes]],
) -> None:
    port, finished, bodies = served
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
    assert finished.event.wait(10), "the app never finished the request"
    assert finished.statuses == [400]
    assert bodies == []


@pytest.mark.parametrize(
    "head",
    [
        b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n",
        # A body the route never reads: the disconnect comes after its messages, so it
        # went unwatched, and the stream was pulled for good.
        b"GET /endless HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        b"GET /endless HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
    ids=["no-body", "unread-body", "unread-chunked-body"],
)
def test_an_endless_stream_stops_once_its_client_has_gone(
    served: tuple[int, Finished, list[bytes]], head: bytes
) -> None:
    port, _, _ = served
    STREAM_STOPPED.clear()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        received = b""
        while len(received) < 16 * 1024:
            received += conn.recv(65536)
        assert b"200 OK" in received
    # Without watching for the disconnect, the server pulls the stream forever (what it
    # sends after the hang-up is dropped silently).
    assert STREAM_STOPPED.wait(10), "the stream kept being pulled after the client left"


def test_a_stream_to_a_client_awaiting_100_continue_asks_for_the_body_it_reads_first(
    served: tuple[int, Finished, list[bytes]],
) -> None:
    # The adapter reads a body the route left unread before pulling its stream. With the
    # head sent first, the server sends no 100 Continue, and a client may then keep its
    # body (RFC 9110): each waited for the other, and the stream never began.
    port, _, _ = served
    STREAM_STOPPED.clear()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"GET /endless HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        received = conn.recv(65536)
        assert received.startswith(b"HTTP/1.1 100 ")
        conn.sendall(b"hello")
        while len(received) < 16 * 1024:
            received += conn.recv(65536)
        assert b"200 OK" in received
    assert STREAM_STOPPED.wait(10), "the stream kept being pulled after the client left"


def test_a_stream_failing_mid_body_is_cut_off_and_its_text_never_reaches_stderr(
    capfd: pytest.CaptureFixture[str], served: tuple[int, Finished, list[bytes]]
) -> None:
    # ``capfd`` first: the server's log handler keeps the stderr it finds at start.
    port, _, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/cut")
    response = conn.getresponse()
    assert response.status == 200
    # The chunked body never ends: the client cannot take the part it got for the whole.
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()
    # The server logs what the app raised before it closes the connection.
    assert "hunter2-mid-stream" not in capfd.readouterr().err


def test_a_stream_failing_to_close_as_its_client_leaves_is_not_raised_into_the_server(
    capfd: pytest.CaptureFixture[str], served: tuple[int, Finished, list[bytes]]
) -> None:
    # Raised from closing the stream, the error reached uvicorn, which printed its text.
    port, _, _ = served
    (calls,) = CALLS
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET /close-fails HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while len(received) < 16 * 1024:
            received += conn.recv(65536)
        assert b"200 OK" in received
    assert calls.ended.wait(10), "the app kept pulling the stream after the client left"
    assert calls.raised == []
    assert "hunter2-on-close" not in capfd.readouterr().err
