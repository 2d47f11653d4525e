"""The ASGI adapter in-process: translation, back-pressure and lifespan."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from daloy_edge_asgi import ASGIApp

from daloy_edge import App, Request, Response
from daloy_edge.middleware.secure_headers import SecureHeaders
from daloy_edge.observability import MemorySink, RequestLog
from tests.support.startup import failing_first_startup


def scope(
    path: str = "/",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    raw_path: bytes | None = None,
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "headers": headers or [],
        "scheme": "https",
        "client": ("203.0.113.9", 5555),
        "server": ("127.0.0.1", 80),
    }


async def call(
    asgi: ASGIApp, sc: dict[str, Any], chunks: list[bytes] | None = None
) -> tuple[int, list[tuple[bytes, bytes]], bytes, int]:
    pending = list(chunks or [b""])
    received = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asgi(sc, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], start["headers"], body, received


async def messages_sent(asgi: ASGIApp, sc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every message ``asgi`` sends for a request with an empty body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asgi(sc, receive, send)
    return sent


def make_app() -> App:
    app = App(max_body=1000)

    @app.get("/info")
    async def info(request: Request) -> object:
        return {
            "client": request.client,
            "q": request.query.get_all("a"),
            "h": request.headers.get_all("x-multi"),
            "path": request.path,
        }

    @app.post("/upload")
    async def upload(request: Request) -> object:
        return {"bytes": len(await request.body())}

    @app.get("/cookies")
    async def cookies(request: Request) -> Response:
        response = Response.json({})
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    @app.get("/stream")
    async def stream(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            yield b"one,"
            yield b"two"

        return Response(stream=parts(), media_type="text/plain")

    @app.get("/empty")
    async def empty(request: Request) -> Response:
        return Response.empty(int(request.query.get("status") or 204))

    return app


async def test_translates_client_query_and_repeated_headers() -> None:
    sc = scope(
        "/info", query=b"a=1&a=2", headers=[(b"x-multi", b"x"), (b"x-multi", b"y"), (b"host", b"h")]
    )
    status, _, body, _ = await call(ASGIApp(make_app()), sc)
    assert status == 200
    assert body == b'{"client":"203.0.113.9","q":["1","2"],"h":["x","y"],"path":"/info"}'


async def test_raw_path_is_used_for_sanitation() -> None:
    sc = scope("/static/../x", raw_path=b"/static/%2e%2e/x")
    status, _, _, _ = await call(ASGIApp(make_app()), sc)
    assert status == 400


async def test_a_decoded_path_without_raw_path_is_decoded_only_once() -> None:
    # Mangum passes the gateway's decoded path and no raw_path: the client's "%252e"
    # arrives as "%2e", which is three characters, never a dot.
    app = App()
    app.add_route("/static/{name:path}", lambda request: request.path_params["name"])
    status, _, body, _ = await call(ASGIApp(app), scope("/static/hello%2etxt"))
    assert (status, body) == (200, b"hello%2etxt")


async def test_routes_below_the_root_path_a_server_prefixes() -> None:
    # uvicorn --root-path /p, and Starlette's Mount("/p"): path and raw_path include it.
    sc = scope("/p/info", raw_path=b"/p/info")
    sc["root_path"] = "/p"
    status, _, body, _ = await call(ASGIApp(make_app()), sc)
    assert status == 200
    assert json.loads(body)["path"] == "/info"


async def test_a_root_path_the_client_spelled_with_escapes_is_taken_off() -> None:
    sc = scope("/p/info", raw_path=b"/%70/info")
    sc["root_path"] = "/p"
    status, _, _, _ = await call(ASGIApp(make_app()), sc)
    assert status == 200


async def test_the_url_below_a_root_path_is_the_one_the_client_addressed() -> None:
    # Links and redirects built from request.url pointed outside the prefix.
    app = App()
    app.add_route("/where", lambda request: {"url": request.url, "root": request.root_path})
    sc = scope("/p/where", raw_path=b"/p/where", headers=[(b"host", b"h.example")])
    sc["root_path"] = "/p"
    status, _, body, _ = await call(ASGIApp(app), sc)
    assert status == 200
    assert json.loads(body) == {"url": "https://h.example/p/where", "root": "/p"}


async def test_an_absolute_form_target_below_a_root_path_is_served_at_its_path() -> None:
    # uvicorn with h11 puts the root_path ahead of the whole target.
    sc = scope("/phttp://h.example/info", raw_path=b"/phttp://h.example/info")
    sc["root_path"] = "/p"
    status, _, body, _ = await call(ASGIApp(make_app()), sc)
    assert status == 200
    assert json.loads(body)["path"] == "/info"


@pytest.mark.parametrize(
    ("target", "expected"),
    [(b"http://h.example/info", "/info"), (b"HTTPS://h.example", "/")],
)
async def test_an_absolute_form_target_is_served_at_its_path(target: bytes, expected: str) -> None:
    # uvicorn with h11 passes the whole target: 400 there, served with httptools and GCF.
    app = make_app()

    @app.get("/")
    async def root(request: Request) -> object:
        return {"path": request.path}

    status, _, body, _ = await call(ASGIApp(app), scope("/", raw_path=target))
    assert status == 200
    assert json.loads(body)["path"] == expected


@pytest.mark.parametrize(
    "target", [b"http://h.example#/info", b"http://h.example?/info", b"http://h.example?a#/info"]
)
async def test_an_absolute_form_target_does_not_serve_its_fragment_or_query_as_the_path(
    target: bytes,
) -> None:
    # The authority ends at "/", "?" or "#" (RFC 3986 3.2): "http://h.example#/info" is
    # the empty path, as gunicorn and a proxy read it; its fragment was served as /info.
    app = make_app()

    @app.get("/")
    async def root(request: Request) -> object:
        return {"path": request.path}

    status, _, body, _ = await call(ASGIApp(app), scope("/", raw_path=target))
    assert status == 200
    assert json.loads(body)["path"] == "/"


async def test_utf8_bytes_in_the_query_are_read_as_utf8_not_latin1() -> None:
    # Mangum hands an HTTP API's raw query on as UTF-8 bytes.
    sc = scope("/info", query=b"a=caf\xc3\xa9&a=%E2%82%AC&a=\xff")
    status, _, body, _ = await call(ASGIApp(make_app()), sc)
    assert status == 200
    assert json.loads(body)["q"] == ["caf\u00e9", "\u20ac", "\ufffd"]


async def test_utf8_bytes_in_the_raw_path_are_read_as_utf8_not_latin1() -> None:
    sc = scope("/info", raw_path=b"/caf\xc3\xa9")
    app = make_app()

    @app.get("/caf\u00e9")
    async def cafe(request: Request) -> object:
        return {"path": request.path}

    status, _, body, _ = await call(ASGIApp(app), sc)
    assert status == 200
    assert json.loads(body) == {"path": "/caf\u00e9"}


async def test_invalid_utf8_bytes_in_the_raw_path_are_refused() -> None:
    status, _, _, _ = await call(ASGIApp(make_app()), scope("/x", raw_path=b"/static/\xff"))
    assert status == 400


async def test_lone_surrogate_in_a_path_without_raw_path_is_refused() -> None:
    # Mangum passes no raw_path, and an event's JSON path can hold "\\ud800".
    status, _, body, _ = await call(ASGIApp(make_app()), scope("/static/\ud800.txt"))
    assert status == 400
    assert b"invalid UTF-8" in body


async def test_keeps_every_set_cookie() -> None:
    _, headers, _, _ = await call(ASGIApp(make_app()), scope("/cookies"))
    assert [v for k, v in headers if k == b"set-cookie"] == [
        b"a=1; Path=/; Secure; HttpOnly; SameSite=Lax",
        b"b=2; Path=/; Secure; HttpOnly; SameSite=Lax",
    ]


async def test_head_states_the_length_of_the_get_body_once() -> None:
    _, got_headers, got, _ = await call(ASGIApp(make_app()), scope("/cookies"))
    status, headers, body, _ = await call(ASGIApp(make_app()), scope("/cookies", "HEAD"))
    assert (status, body) == (200, b"")
    lengths = [v for k, v in headers if k == b"content-length"]
    got_lengths = [v for k, v in got_headers if k == b"content-length"]
    assert lengths == got_lengths == [str(len(got)).encode()]


async def test_head_of_a_streamed_get_states_no_length() -> None:
    status, headers, body, _ = await call(ASGIApp(make_app()), scope("/stream", "HEAD"))
    assert (status, body) == (200, b"")
    assert [k for k, _ in headers if k == b"content-length"] == []


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("status", [204, 304])
async def test_no_content_length_on_a_status_without_content(method: str, status: int) -> None:
    sc = scope("/empty", method, query=b"status=%d" % status)
    got, headers, _, _ = await call(ASGIApp(make_app()), sc)
    assert got == status
    assert [k for k, _ in headers if k == b"content-length"] == []


class Parts:
    """A streamed body that records what was done with it."""

    def __init__(self) -> None:
        self.done: list[str] = []

    def __aiter__(self) -> Parts:
        return self

    async def __anext__(self) -> bytes:
        if self.done:
            raise StopAsyncIteration
        self.done.append("pulled")
        return b"content"

    async def aclose(self) -> None:
        self.done.append("closed")


def app_answering(status: int, parts: Parts | None = None) -> App:
    app = App()

    @app.get("/x")
    async def x(request: Request) -> Response:
        if parts is not None:
            return Response(stream=parts, status=status)
        return Response.json({"deleted": True}, status=status)

    return app


@pytest.mark.parametrize("status", [204, 304])
async def test_content_given_to_a_status_without_content_is_not_sent(status: int) -> None:
    got, headers, body, _ = await call(ASGIApp(app_answering(status)), scope("/x"))
    assert (got, body) == (status, b"")
    assert [k for k, _ in headers if k == b"content-length"] == []


@pytest.mark.parametrize("status", [204, 304])
async def test_a_stream_given_to_a_status_without_content_is_closed_unsent(status: int) -> None:
    parts = Parts()
    got, _, body, _ = await call(ASGIApp(app_answering(status, parts)), scope("/x"))
    assert (got, body, parts.done) == (status, b"", ["closed"])


async def test_a_content_length_set_by_the_handler_is_never_sent_twice() -> None:
    app = App()

    @app.get("/x")
    async def x(request: Request) -> Response:
        return Response(b"abc", headers={"content-length": "3"})

    _, headers, body, _ = await call(ASGIApp(app), scope("/x"))
    assert body == b"abc"
    assert [v for k, v in headers if k == b"content-length"] == [b"3"]


async def test_a_transfer_encoding_set_by_the_handler_is_not_sent_beside_the_length() -> None:
    app = App()

    @app.get("/x")
    async def x(request: Request) -> Response:
        return Response(b"abc", headers={"transfer-encoding": "chunked"})

    _, headers, body, _ = await call(ASGIApp(app), scope("/x"))
    assert body == b"abc"
    assert [k for k, _ in headers if k in (b"content-length", b"transfer-encoding")] == [
        b"content-length"
    ]


async def test_streams_response_body() -> None:
    _, _, body, _ = await call(ASGIApp(make_app()), scope("/stream"))
    assert body == b"one,two"


async def test_a_stream_reading_the_body_its_route_left_unread_gets_it_whole() -> None:
    # The adapter reads such a body before pulling the stream, to watch for the
    # disconnect behind it: the stream still reads the whole body, as on every runtime.
    import asyncio

    app = App()

    @app.post("/echo-later")
    async def echo_later(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            yield b"got:"
            yield await request.body()

        return Response(stream=parts(), media_type="text/plain")

    pending = [b"hel", b"lo"]
    stay = asyncio.Event()  # the client stays: no disconnect after the body
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        await stay.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    sc = scope("/echo-later", method="POST", headers=[(b"transfer-encoding", b"chunked")])
    await ASGIApp(app)(sc, receive, send)
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"got:hello"
    assert sent[-1].get("more_body", False) is False


async def test_a_stream_of_text_chunks_is_sent_as_utf8_bytes() -> None:
    # Servers write bytes only: a str chunk failed the connection after the 200 went out.
    app = App()

    @app.get("/text-stream")
    async def text_stream(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            yield "caf\u00e9,"
            yield b"two"

        return Response(stream=parts(), media_type="text/plain; charset=utf-8")

    sent = await messages_sent(ASGIApp(app), scope("/text-stream"))
    bodies = [m["body"] for m in sent[1:]]
    assert all(type(body) is bytes for body in bodies)
    assert b"".join(bodies) == "caf\u00e9,two".encode()


async def test_reads_chunked_body() -> None:
    status, _, body, _ = await call(ASGIApp(make_app()), scope("/upload", "POST"), [b"a"] * 5)
    assert status == 200 and body == b'{"bytes":5}'


@pytest.mark.parametrize("coding", [b"gzip, chunked", b"GZIP,chunked", b"x-custom , chunked"])
async def test_a_body_in_a_transfer_coding_left_undecoded_is_a_400(coding: bytes) -> None:
    # The scope uvicorn with httptools builds for "Transfer-Encoding: gzip, chunked": it
    # takes the request and hands the gzip data on undecoded, as if it were the content.
    headers = [(b"host", b"a"), (b"transfer-encoding", coding)]
    sc = scope("/upload", "POST", headers=headers)
    status, fields, body, received = await call(ASGIApp(make_app()), sc, [gzip.compress(b"x")])
    assert status == 400 and (b"content-type", b"application/problem+json") in fields
    assert json.loads(body)["detail"] == "a transfer coding other than chunked"
    assert received == 0


@pytest.mark.parametrize("lines", [[b"chunked"], [b" Chunked "]])
async def test_a_chunked_body_is_read_whatever_the_case_and_spacing(lines: list[bytes]) -> None:
    headers = [(b"transfer-encoding", line) for line in lines]
    sc = scope("/upload", "POST", headers=headers)
    status, _, body, _ = await call(ASGIApp(make_app()), sc, [b"ab", b"c"])
    assert (status, body) == (200, b'{"bytes":3}')


async def test_stops_receiving_once_the_limit_is_passed() -> None:
    chunks = [b"x" * 100] * 1000
    status, _, _, received = await call(ASGIApp(make_app()), scope("/upload", "POST"), chunks)
    assert status == 413
    assert received == 11


async def test_a_bytes_body_is_sent_as_one_final_message() -> None:
    sent = await messages_sent(ASGIApp(make_app()), scope("/cookies"))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1]["body"] == b"{}" and not sent[1].get("more_body", False)


async def closed_connection(message: dict[str, Any]) -> None:
    raise ConnectionResetError("the client has gone")


async def test_a_response_to_a_client_that_left_does_not_raise_into_the_server() -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await ASGIApp(make_app())(scope("/cookies"), receive, closed_connection)


async def test_a_stream_to_a_client_that_left_is_closed_without_raising() -> None:
    app = App()
    pulled: list[int] = []
    closed: list[bool] = []

    @app.get("/stream")
    async def stream(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            try:
                for n in range(1000):
                    pulled.append(n)
                    yield b"part"
            finally:
                closed.append(True)

        return Response(stream=parts(), media_type="text/plain")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            await closed_connection(message)

    await ASGIApp(app)(scope("/stream"), receive, send)
    assert (pulled, closed) == ([0], [True])


class Cursor:
    """A stream that is no generator (a database cursor): it holds its resource until its
    ``aclose`` is called, whether or not it was ever pulled."""

    def __init__(self) -> None:
        self.closed = False

    def __aiter__(self) -> Cursor:
        return self

    async def __anext__(self) -> bytes:
        return b"row"

    async def aclose(self) -> None:
        self.closed = True


def cursor_app(cursor: Cursor) -> ASGIApp:
    app = App(request_log=False)

    @app.route("/rows", methods=["GET", "POST"])
    async def rows(request: Request) -> Response:
        return Response(stream=cursor, media_type="text/plain")

    return ASGIApp(app)


async def test_a_stream_to_a_client_gone_before_the_head_is_closed() -> None:
    # An ASGI 2.4 server raises OSError from the head's send: the stream was left open.
    cursor = Cursor()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await cursor_app(cursor)(scope("/rows"), receive, closed_connection)
    assert cursor.closed


async def test_a_stream_whose_request_is_cancelled_while_its_unread_body_is_read_is_closed() -> (
    None
):
    # The server cancels the request (it shuts down) while the adapter waits for a body
    # the route left unread: the stream, never pulled, must still be closed.
    import asyncio

    cursor = Cursor()
    waiting = asyncio.Event()

    async def receive() -> dict[str, Any]:
        waiting.set()
        await asyncio.Event().wait()  # a client that never sends its body
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    sc = scope("/rows", method="POST", headers=[(b"content-length", b"5")])
    task = asyncio.create_task(cursor_app(cursor)(sc, receive, send))
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sent == []
    assert cursor.closed


async def test_a_stream_to_a_client_gone_mid_body_is_never_pulled_when_told_once() -> None:
    # Hypercorn puts one http.disconnect on the app's queue, and the next receive waits
    # for good. Read by the adapter's reading of the unread body, it left nothing for the
    # watch: an endless stream was pulled for good after the client had gone.
    import asyncio

    pulled = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(1000):  # bounded, so the failure is a count, not a hang
            pulled += 1
            yield b"x"
            await asyncio.sleep(0)

    app = App(request_log=False)

    @app.get("/events")
    async def events(request: Request) -> Response:
        return Response(stream=chunks(), media_type="text/plain")

    messages = [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # told once: nothing more comes
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    sc = scope("/events", headers=[(b"content-length", b"10")])
    await ASGIApp(app)(sc, receive, send)
    assert pulled == 0
    assert sent == []


async def test_a_stream_failing_after_its_first_chunk_is_cut_off_not_raised_to_the_server() -> None:
    # Raised on, the server printed the error's text, secrets included, to stderr.
    app = App(request_log=False)
    closed: list[bool] = []

    @app.get("/cut")
    async def cut(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            try:
                yield b"first"
                raise RuntimeError("password=hunter2")
            finally:
                closed.append(True)

        return Response(stream=parts(), media_type="text/plain")

    sent = await messages_sent(ASGIApp(app), scope("/cut"))
    # No last message: the server closes the connection, and the body is seen cut off.
    assert [m.get("more_body", False) for m in sent[1:]] == [True]
    assert closed == [True]


@pytest.mark.parametrize(
    "chunk", ["\udc80 echoed", 5, {"a": 1}], ids=["lone-surrogate", "int", "dict"]
)
async def test_a_stream_chunk_no_server_can_send_cuts_the_body_off_not_raised_to_the_server(
    chunk: object,
) -> None:
    # Passed on, the server failed mid-answer on it and printed the error as the
    # application's crash ("Exception in ASGI application").
    app = App(request_log=False)
    closed: list[bool] = []

    @app.get("/cut")
    async def cut(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            try:
                yield b"first"
                yield chunk
                yield b"never"
            finally:
                closed.append(True)

        return Response(stream=parts(), media_type="text/plain")

    sent = await messages_sent(ASGIApp(app), scope("/cut"))
    assert [(m["body"], m.get("more_body", False)) for m in sent[1:]] == [(b"first", True)]
    assert closed == [True]


async def test_a_bytes_like_stream_chunk_is_sent_as_bytes() -> None:
    app = App(request_log=False)

    @app.get("/parts")
    async def parts_route(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            yield bytearray(b"ab")
            yield memoryview(b"cd")

        return Response(stream=parts(), media_type="text/plain")

    sent = await messages_sent(ASGIApp(app), scope("/parts"))
    bodies = [m["body"] for m in sent[1:]]
    assert all(type(body) is bytes for body in bodies)
    assert b"".join(bodies) == b"abcd" and not sent[-1].get("more_body", False)


async def test_empty_body_messages_before_the_last_are_skipped() -> None:
    chunks = [b"", b"ab", b"", b"c", b""]
    status, _, body, received = await call(ASGIApp(make_app()), scope("/upload", "POST"), chunks)
    assert (status, body, received) == (200, b'{"bytes":3}', 5)


async def test_a_disconnect_before_the_last_body_message_is_a_400() -> None:
    seen: list[bytes] = []
    app = App()

    @app.post("/upload")
    async def upload(request: Request) -> object:
        seen.append(await request.body())
        return {}

    messages = [
        {"type": "http.request", "body": b"part", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await ASGIApp(app)(scope("/upload", "POST"), receive, send)
    assert sent[0]["status"] == 400
    assert seen == []


async def lifespan_sent(app: App, *steps: str) -> list[dict[str, str]]:
    """What the adapter sends for a lifespan of ``steps`` ("startup", "shutdown")."""
    messages = [{"type": f"lifespan.{step}"} for step in steps]
    sent: list[dict[str, str]] = []

    async def receive() -> dict[str, str]:
        return messages.pop(0)

    async def send(message: dict[str, str]) -> None:
        sent.append(message)

    await ASGIApp(app)({"type": "lifespan"}, receive, send)
    return sent


async def test_lifespan_runs_startup_and_shutdown() -> None:
    app = make_app()
    events: list[str] = []
    app.on_startup(lambda: events.append("up"))
    app.on_shutdown(lambda: events.append("down"))
    sent = await lifespan_sent(app, "startup", "shutdown")
    assert events == ["up", "down"]
    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


async def test_lifespan_reports_failed_startup() -> None:
    app = make_app()

    def broken() -> None:
        raise RuntimeError("no")

    app.on_startup(broken)
    sent = await lifespan_sent(app, "startup")
    assert [message["type"] for message in sent] == ["lifespan.startup.failed"]


async def test_lifespan_reports_a_startup_hook_calling_sys_exit_as_failed_not_raised() -> None:
    # Raised to uvicorn, "auto" lifespan took it as unsupported and served anyway, every
    # request running the hook again; "on" printed it with its text.
    app = make_app()

    def load_settings() -> None:
        raise SystemExit("DATABASE_URL=postgres://app:hunter2@db missing")

    app.on_startup(load_settings)
    assert await lifespan_sent(app, "startup") == [
        {"type": "lifespan.startup.failed", "message": "RuntimeError"}
    ]


async def test_lifespan_reports_failed_shutdown_rather_than_raising() -> None:
    app = make_app()

    def broken() -> None:
        raise RuntimeError("no")

    app.on_shutdown(broken)
    sent = await lifespan_sent(app, "startup", "shutdown")
    assert sent[1] == {"type": "lifespan.shutdown.failed", "message": "RuntimeError"}


def logged(app_options: dict[str, Any] | None = None) -> tuple[App, MemorySink]:
    sink = MemorySink()
    app = App(request_log=RequestLog(stdout=False, sinks=[sink]), **(app_options or {}))
    return app, sink


async def test_lifespan_failed_startup_logs_why_where_the_server_is_told_the_type_alone() -> None:
    # uvicorn, Hypercorn and Granian print "RuntimeError" and exit: the reason the app
    # could not start was nowhere.
    app, sink = logged()

    def connect() -> None:
        raise RuntimeError("no route to db.internal:5432 (password=hunter2)")

    app.on_startup(connect)
    assert await lifespan_sent(app, "startup") == [
        {"type": "lifespan.startup.failed", "message": "RuntimeError"}
    ]
    [record] = sink.records
    attributes: Any = record["Attributes"]
    assert record["SeverityText"] == "ERROR" and record["Body"] == "the app could not start"
    assert attributes["exception.type"] == "RuntimeError"
    assert "db.internal:5432" in attributes["exception.message"]
    assert "connect" in attributes["exception.stacktrace"]
    assert "hunter2" not in sink.lines[0]


async def test_lifespan_refused_configuration_logs_what_to_fix() -> None:
    # A configuration the app refuses to serve with fails at build: the server printed
    # "ConfigError", never which setting.
    secure_headers = SecureHeaders()
    app, sink = logged({"middleware": [secure_headers, secure_headers]})
    assert await lifespan_sent(app, "startup") == [
        {"type": "lifespan.startup.failed", "message": "ConfigError"}
    ]
    [record] = sink.records
    attributes: Any = record["Attributes"]
    assert attributes["exception.type"].endswith("ConfigError")
    assert "the same SecureHeaders object runs twice" in attributes["exception.message"]


def test_lifespan_on_an_event_loop_other_than_asyncio_fails_start_up_saying_what_to_run() -> None:
    # The failure: under hypercorn -k trio the app started and served with no request
    # deadline (a handler awaiting trio.sleep(2) answered 200 past a 0.3 s deadline),
    # and every sync handler was a 500 ("no running event loop"). Driven here as such
    # a loop drives it: by a scheduler that is not asyncio's.
    app, sink = logged()
    started: list[int] = []
    app.on_startup(lambda: started.append(1))
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, str]] = []

    async def receive() -> dict[str, str]:
        return messages.pop(0)

    async def send(message: dict[str, str]) -> None:
        sent.append(message)

    with pytest.raises(StopIteration):
        ASGIApp(app)({"type": "lifespan"}, receive, send).send(None)
    assert [message["type"] for message in sent] == ["lifespan.startup.failed"]
    told = sent[0]["message"]
    assert "runs on asyncio" in told and "hypercorn -k asyncio" in told
    assert started == []
    [record] = sink.records
    assert record["Body"] == "the app could not start"


async def test_lifespan_failed_shutdown_logs_why() -> None:
    app, sink = logged()

    def close_pool() -> None:
        raise RuntimeError("pool already closed")

    app.on_shutdown(close_pool)
    sent = await lifespan_sent(app, "startup", "shutdown")
    assert sent[1] == {"type": "lifespan.shutdown.failed", "message": "RuntimeError"}
    [record] = sink.records
    attributes: Any = record["Attributes"]
    assert record["Body"] == "the app's shut-down failed"
    assert attributes["exception.message"] == "pool already closed"


async def test_sync_handlers_run_in_a_thread_under_asgi() -> None:
    import threading

    app = App()
    main_thread = threading.get_ident()

    @app.get("/t")
    def t(request: Request) -> object:
        return {"other_thread": threading.get_ident() != main_thread}

    _, _, body, _ = await call(ASGIApp(app), scope("/t"))
    assert body == b'{"other_thread":true}'


async def test_a_sync_handler_raising_stop_iteration_is_a_500_not_a_wait_for_the_deadline() -> None:
    # next() on an empty iterator, in a handler run in a thread: asyncio cannot hand a
    # StopIteration back from the thread, and the request hung until its 504.
    app = App(request_timeout=2.0)

    @app.get("/first")
    def first(request: Request) -> object:
        return {"first": next(iter(()))}

    status, _, body, _ = await call(ASGIApp(app), scope("/first"))
    assert status == 500
    assert json.loads(body)["type"] == "urn:daloy-edge:problem:internal-error"


async def test_a_sync_handler_raising_generator_exit_is_a_500_not_a_closed_app() -> None:
    # Thrown back into the task awaiting the thread, it closed the app's coroutines: no
    # answer reached the server.
    app = App()

    @app.get("/closing")
    def closing(request: Request) -> object:
        raise GeneratorExit

    status, _, body, _ = await call(ASGIApp(app), scope("/closing"))
    assert status == 500
    assert json.loads(body)["type"] == "urn:daloy-edge:problem:internal-error"


async def test_without_lifespan_startup_runs_once_and_handlers_stay_the_same() -> None:
    app = make_app()
    runs: list[int] = []
    app.on_startup(lambda: runs.append(1))
    asgi = ASGIApp(app)
    for _ in range(3):
        status, _, _, _ = await call(asgi, scope("/info", headers=[(b"X-Multi", b"a")]))
        assert status == 200
    assert runs == [1]


async def test_without_lifespan_a_failed_startup_is_a_503_and_runs_again_next_request() -> None:
    app = make_app()
    runs = failing_first_startup(app)
    asgi = ASGIApp(app)
    status, headers, _, _ = await call(asgi, scope("/info"))
    assert status == 503 and (b"retry-after", b"1") in headers
    assert (await call(asgi, scope("/info")))[0] == 200
    assert runs == [1, 1]


async def test_an_app_overriding_handle_is_called_for_every_request() -> None:
    seen: list[str] = []

    class Wrapped(App):
        async def handle(self, request: Request) -> Response:
            seen.append(request.path)
            return await super().handle(request)

    app = Wrapped()

    @app.get("/x")
    async def x(request: Request) -> object:
        return {}

    asgi = ASGIApp(app)
    for _ in range(3):
        assert (await call(asgi, scope("/x")))[0] == 200
    assert seen == ["/x", "/x", "/x"]


async def test_to_request_matches_the_request_constructor() -> None:
    from daloy_edge_asgi import to_request

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    sc = scope("/a b", headers=[(b"Host", b"h"), (b"x-\xe9", b"\xff")], query=b"q=1")
    request = to_request(sc, receive)
    assert request.headers.items() == [("host", "h"), ("x-\u00e9", "\u00ff")]
    assert (request.method, request.raw_path, request.query_string) == ("GET", "/a%20b", "q=1")
    peer = "203.0.113.9"
    assert (request.scheme, request.client, request.client_ip) == ("https", peer, peer)
    assert request.sync_in_thread is True and request.runtime == "asgi" and request.env == {}


def handshake(extensions: dict[str, object]) -> dict[str, Any]:
    sc = scope("/info", headers=[(b"upgrade", b"websocket"), (b"x-request-id", b"ws-1")])
    del sc["method"]  # a WebSocket scope has none
    return {**sc, "type": "websocket", "scheme": "wss", "extensions": extensions}


async def websocket_messages(sc: dict[str, Any], app: App | None = None) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await ASGIApp(app or make_app())(sc, receive, send)
    return sent


async def test_a_websocket_handshake_gets_the_apps_answer_to_its_get() -> None:
    # uvicorn would answer a closed handshake with its own bare 403: no request id, no
    # Server-Timing, no secure headers, no request line.
    start, body = await websocket_messages(handshake({"websocket.http.response": {}}))
    assert start["type"] == "websocket.http.response.start"
    assert start["status"] == 200
    headers = dict(start["headers"])
    assert headers[b"x-request-id"] == b"ws-1"
    assert b"server-timing" in headers
    assert headers[b"content-length"] == str(len(body["body"])).encode()
    assert body["type"] == "websocket.http.response.body"
    assert json.loads(body["body"])["path"] == "/info"


async def test_a_websocket_handshake_to_an_endless_stream_is_answered_without_reading_it() -> None:
    # Read whole for the server, an event feed that never ends grew in memory without
    # bound (hundreds of MB a second) for any client that sent "Upgrade: websocket".
    app = App(request_log=False)
    pulled: list[int] = []
    closed: list[bool] = []

    @app.get("/events")
    async def events(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            try:
                for _ in range(10_000):  # a feed that never ends, as far as this test goes
                    pulled.append(1)
                    yield b"data: tick\n\n"
            finally:
                closed.append(True)

        return Response(stream=parts(), media_type="text/event-stream")

    sc = handshake({"websocket.http.response": {}})
    sc["path"], sc["raw_path"] = "/events", b"/events"
    sent = await websocket_messages(sc, app)
    assert [(m["type"], m.get("status")) for m in sent] == [
        ("websocket.http.response.start", 200),
        ("websocket.http.response.body", None),
    ]
    assert sent[1]["body"] == b""
    assert len(pulled) <= 1 and closed in ([], [True])


async def test_a_websocket_handshake_to_a_failing_stream_does_not_raise_into_the_server() -> None:
    # Read whole, the stream's error (its text unredacted) reached the server.
    app = App(request_log=False)

    @app.get("/cut")
    async def cut(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            yield b"first"
            raise RuntimeError("password=hunter2")

        return Response(stream=parts(), media_type="text/plain")

    sc = handshake({"websocket.http.response": {}})
    sc["path"], sc["raw_path"] = "/cut", b"/cut"
    sent = await websocket_messages(sc, app)
    assert sent[0]["status"] == 200 and sent[1]["body"] == b""


@pytest.mark.parametrize("extensions", [{"websocket.http.response": {}}, {}])
async def test_a_websocket_handshake_from_a_client_already_gone_does_not_raise_into_the_server(
    extensions: dict[str, object],
) -> None:
    # An ASGI 2.4 server raises OSError from send on a closed connection: the HTTP answer
    # caught it, the handshake's answer raised it into the server as an app failure.
    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    await ASGIApp(make_app())(handshake(extensions), receive, closed_connection)


class Feed:
    """An endless event feed holding a resource that only closing it frees."""

    def __init__(self) -> None:
        self.open = True

    def __aiter__(self) -> Feed:
        return self

    async def __anext__(self) -> bytes:
        return b"data: tick\n\n"

    async def aclose(self) -> None:
        self.open = False


async def test_a_websocket_handshake_to_a_streamed_route_closes_its_stream_with_the_log_on() -> (
    None
):
    # The request log wrapped a streamed body in a generator, and closing a generator that
    # never started runs none of its code: each handshake left its route's stream open.
    feeds: list[Feed] = []
    app = App(request_log=RequestLog(stdout=False, sinks=[MemorySink()]))

    @app.get("/events")
    async def events(request: Request) -> Response:
        feeds.append(Feed())
        return Response(stream=feeds[-1], media_type="text/event-stream")

    sc = handshake({"websocket.http.response": {}})
    sc["path"], sc["raw_path"] = "/events", b"/events"
    sent: list[dict[str, Any]] = []
    for _ in range(3):
        sent += await websocket_messages(sc, app)
    assert [m.get("status") for m in sent] == [200, None] * 3
    assert [feed.open for feed in feeds] == [False] * 3


class UnclosableFeed(Feed):
    async def aclose(self) -> None:
        raise RuntimeError("feed close said password=hunter2-on-close")


async def test_a_websocket_handshake_to_a_stream_failing_to_close_is_answered() -> None:
    # The close's error was raised into the server before the head went: no answer from
    # the app, and its text printed unredacted.
    app = App(request_log=False)

    @app.get("/events")
    async def events(request: Request) -> Response:
        return Response(stream=UnclosableFeed(), media_type="text/event-stream")

    sc = handshake({"websocket.http.response": {}})
    sc["path"], sc["raw_path"] = "/events", b"/events"
    sent = await websocket_messages(sc, app)
    assert [(m["type"], m.get("status")) for m in sent] == [
        ("websocket.http.response.start", 200),
        ("websocket.http.response.body", None),
    ]


async def test_a_websocket_handshake_is_closed_where_the_server_takes_no_http_answer() -> None:
    assert await websocket_messages(handshake({})) == [{"type": "websocket.close", "code": 1003}]


def app_whose_middleware_sets_the_body(body: object) -> App:
    async def rewrite(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.body = body  # type: ignore[assignment]
        return response

    app = App(middleware=[rewrite], request_log=False)

    @app.get("/x")
    async def x(request: Request) -> dict[str, bool]:
        return {"ok": True}

    return app


async def test_a_str_body_middleware_sets_is_sent_as_utf8_with_its_byte_length() -> None:
    asgi = ASGIApp(app_whose_middleware_sets_the_body("café"))
    got, headers, body, _ = await call(asgi, scope("/x"))
    assert (got, body) == (200, "café".encode())
    assert [v for k, v in headers if k == b"content-length"] == [b"5"]


async def test_a_dict_body_middleware_sets_is_a_500_problem_not_a_failed_send() -> None:
    asgi = ASGIApp(app_whose_middleware_sets_the_body({"ok": True}))
    got, headers, body, _ = await call(asgi, scope("/x"))
    assert got == 500
    assert (b"content-type", b"application/problem+json") in headers
    assert b"internal-error" in body


async def test_a_header_value_with_spaces_around_it_is_one_h11_sends() -> None:
    # Sent as given, h11 (uvicorn's and Hypercorn's HTTP/1.1) refused the field after
    # the request was logged as answered, and the client saw the connection drop.
    import h11

    app = App(request_log=False)

    @app.get("/x")
    async def x(request: Request) -> Response:
        response = Response.text("hi", headers={"x-note": " padded "})
        response.headers.add("x-trace", "\tid\t")
        return response

    status, headers, body, _ = await call(ASGIApp(app), scope("/x"))
    assert (status, body) == (200, b"hi")
    assert (b"x-note", b"padded") in headers and (b"x-trace", b"id") in headers
    h11.Response(status_code=status, headers=headers)


@pytest.mark.parametrize("declared", ["", "abc", "5, 5"], ids=["empty", "word", "list"])
async def test_head_with_a_handler_length_that_is_no_length_is_one_h11_sends(
    declared: str,
) -> None:
    # uvicorn's h11 refused the field and dropped the connection.
    import h11

    app = App(request_log=False)

    @app.get("/x")
    async def x(request: Request) -> Response:
        return Response(b"", headers={"content-length": declared})

    status, headers, body, _ = await call(ASGIApp(app), scope("/x", method="HEAD"))
    assert (status, body) == (200, b"")
    assert b"content-length" not in dict(headers)
    h11.Response(status_code=status, headers=headers)
