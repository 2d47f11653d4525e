"""The ASGI adapter's shortcuts, each from both sides: the remembered request header
names, the remembered response header fields, and what still holds around them (bodies
are read, streams stop when their client leaves)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from daloy_edge_asgi import ASGIApp
from daloy_edge_asgi import _adapter as adapter

from daloy_edge import App, Request, Response

Headers = list[tuple[bytes, bytes]]


def scope(
    path: str = "/",
    method: str = "GET",
    headers: Headers | None = None,
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers or [],
        "scheme": "http",
        "client": ("203.0.113.9", 5555),
        "http_version": "1.1",
    }


class Exchange:
    """One request's receive and send: the body messages given, what was sent back."""

    def __init__(self, chunks: list[bytes] | None = None) -> None:
        self.pending: list[dict[str, Any]] = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks or [])
        ]
        self.received = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.received += 1
        if self.pending:
            return self.pending.pop(0)
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        status: int = self.sent[0]["status"]
        return status

    @property
    def headers(self) -> Headers:
        headers: Headers = self.sent[0]["headers"]
        return headers

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


async def run(asgi: ASGIApp, sc: dict[str, Any], chunks: list[bytes] | None = None) -> Exchange:
    exchange = Exchange(chunks)
    await asgi(sc, exchange.receive, exchange.send)
    return exchange


def upload_app() -> ASGIApp:
    app = App(request_log=False)

    @app.post("/upload")
    async def upload(request: Request) -> object:
        return {"bytes": len(await request.body())}

    @app.get("/headers")
    async def headers(request: Request) -> object:
        return request.headers.items()

    return ASGIApp(app)


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    adapter._NAMES.clear()
    adapter._ENCODED.clear()


# Request header names


async def test_a_remembered_header_name_is_lowered_like_a_new_one() -> None:
    asgi = upload_app()
    sc = scope("/headers", headers=[(b"X-Trace", b"a"), (b"x-trace", b"b")])
    first = await run(asgi, sc)
    second = await run(asgi, sc)
    assert adapter._NAMES == {b"X-Trace": "x-trace", b"x-trace": "x-trace"}
    assert first.body == second.body == b'[["x-trace","a"],["x-trace","b"]]'


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            [(b"Host", b"a"), (b"X-Forwarded-For", b"192.0.2.1"), (b"Cookie", b"a=1")],
            b'{"host":"a","xff":["192.0.2.1"],"cookie":["a=1"]}',
        ),
        (  # repeated lines: every value kept, in order
            [
                (b"host", b"a"),
                (b"x-forwarded-for", b"192.0.2.1"),
                (b"cookie", b"a=1"),
                (b"X-Forwarded-For", b"198.51.100.7"),
                (b"cookie", b"b=2"),
            ],
            b'{"host":"a","xff":["192.0.2.1","198.51.100.7"],"cookie":["a=1","b=2"]}',
        ),
    ],
)
async def test_request_header_lookups_see_every_line(fields: Headers, expected: bytes) -> None:
    app = App(request_log=False)

    @app.get("/lookups")
    async def lookups(request: Request) -> object:
        headers = request.headers
        return {
            "host": headers.get("HOST"),
            "xff": headers.get_all("X-Forwarded-For"),
            "cookie": headers.get_all("cookie"),
        }

    asgi = ASGIApp(app)
    for _ in range(2):  # names decoded, then remembered
        assert (await run(asgi, scope("/lookups", headers=fields))).body == expected


async def test_header_names_are_remembered_up_to_a_bound() -> None:
    asgi = upload_app()
    for i in range(adapter._NAMES_MAX + 10):
        await run(asgi, scope("/headers", headers=[(b"x-n%d" % i, b"v")]))
        assert len(adapter._NAMES) <= adapter._NAMES_MAX
    last = f"x-n{adapter._NAMES_MAX + 9}"
    assert adapter._NAMES[last.encode()] == last


async def test_a_long_header_name_is_decoded_but_not_remembered() -> None:
    name = b"x-" + b"a" * adapter._NAME_BYTES_MAX
    exchange = await run(upload_app(), scope("/headers", headers=[(name, b"v")]))
    assert exchange.body == b'[["%s","v"]]' % name
    assert name not in adapter._NAMES


@pytest.mark.parametrize("name", [b"content-length", b"Content-Length"])
async def test_a_remembered_content_length_still_frames_every_body(name: bytes) -> None:
    asgi = upload_app()
    sc = scope("/upload", "POST", headers=[(name, b"3")])
    for _ in range(3):
        exchange = await run(asgi, sc, [b"abc"])
        assert (exchange.status, exchange.body) == (200, b'{"bytes":3}')
    assert name in adapter._NAMES
    too_long = await run(asgi, sc, [b"abcd"])
    assert too_long.status == 400


async def test_a_chunked_http1_body_is_read_every_time() -> None:
    asgi = upload_app()
    sc = scope("/upload", "POST", headers=[(b"transfer-encoding", b"chunked")])
    for _ in range(2):
        exchange = await run(asgi, sc, [b"ab", b"c"])
        assert exchange.body == b'{"bytes":3}'


# Request bodies


async def test_a_body_no_header_announces_is_still_read() -> None:
    # What Mangum builds from an API Gateway event: HTTP/1.1, a body, no Content-Length.
    exchange = await run(upload_app(), scope("/upload", "POST"), [b"ab", b"c"])
    assert exchange.body == b'{"bytes":3}'


# Response header fields


def fields_app(value: str) -> ASGIApp:
    app = App(request_log=False)

    @app.get("/x")
    async def x(request: Request) -> Response:
        response = Response(
            b"abc",
            headers={"cache-control": value, "x-token": f"t-{value}", "content-length": "3"},
        )
        response.set_cookie("sid", "secret-value")
        return response

    return ASGIApp(app)


async def test_a_remembered_field_is_sent_as_a_new_one_is() -> None:
    asgi = fields_app("caf\u00e9")
    first = await run(asgi, scope("/x"))
    second = await run(asgi, scope("/x"))
    for exchange in (first, second):
        assert (b"cache-control", b"caf\xe9") in exchange.headers
        assert [v for k, v in exchange.headers if k == b"content-length"] == [b"3"]
    assert adapter._ENCODED[("cache-control", "caf\u00e9")] == (b"cache-control", b"caf\xe9")


async def test_only_fields_named_as_static_are_remembered() -> None:
    exchange = await run(fields_app("n"), scope("/x"))
    sent = {k for k, _ in exchange.headers}
    assert {b"set-cookie", b"x-request-id", b"server-timing", b"x-token"} <= sent
    assert {name for name, _ in adapter._ENCODED} <= adapter._REMEMBERED_NAMES
    assert not any(value in ("t-n", "secret-value") for _, value in adapter._ENCODED)


async def test_a_long_field_value_is_sent_but_not_remembered() -> None:
    value = "v" * (adapter._VALUE_MAX + 1)
    exchange = await run(fields_app(value), scope("/x"))
    assert (b"cache-control", value.encode()) in exchange.headers
    assert ("cache-control", value) not in adapter._ENCODED


async def test_remembered_fields_are_bounded() -> None:
    for i in range(adapter._ENCODED_MAX + 10):
        exchange = await run(fields_app(str(i)), scope("/x"))
        assert (b"cache-control", str(i).encode()) in exchange.headers
        assert len(adapter._ENCODED) <= adapter._ENCODED_MAX


async def test_fields_given_as_lists_are_still_sent() -> None:
    app = App(request_log=False)

    @app.get("/x")
    async def x(request: Request) -> Response:
        response = Response(b"abc", headers={"content-length": "3"})
        response.headers.extend_lowered([["x-list", "1"]])  # type: ignore[list-item]
        return response

    for method in ("GET", "HEAD"):
        exchange = await run(ASGIApp(app), scope("/x", method))
        assert (b"x-list", b"1") in exchange.headers
        assert [v for k, v in exchange.headers if k == b"content-length"] == [b"3"]


# Disconnect watching of streamed responses


def stream_app(closed: list[bool]) -> ASGIApp:
    app = App(request_log=False)

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x"
                await asyncio.sleep(0)  # lets the disconnect watcher run
        finally:
            closed.append(True)

    async def three() -> AsyncIterator[bytes]:
        for chunk in (b"a", b"b", b"c"):
            yield chunk
            await asyncio.sleep(0)  # a watcher, were there one, would run here

    @app.get("/endless")
    async def get_endless(request: Request) -> Response:
        return Response(stream=endless())

    @app.post("/three")
    async def post_three(request: Request) -> Response:
        return Response(stream=three())

    return ASGIApp(app)


async def test_a_stream_to_a_bodiless_request_stops_when_the_client_leaves() -> None:
    closed: list[bool] = []
    # Bounded, so a stream that is never stopped fails the test instead of hanging it.
    exchange = await asyncio.wait_for(run(stream_app(closed), scope("/endless")), 5)
    assert closed == [True]
    assert exchange.received >= 1
    assert exchange.sent[-1].get("more_body") is True  # cut off, never ended normally


async def test_a_stream_to_a_request_with_an_unread_body_stops_when_the_client_leaves() -> None:
    # The body is read for the request (under its limit) first: the disconnect comes
    # after its messages, and went unwatched while they were left unread.
    sc = scope("/three", "POST", headers=[(b"content-length", b"5")])
    exchange = await run(stream_app([]), sc, [b"hello"])
    assert exchange.received == 2  # the body, then the disconnect
    assert exchange.body == b"a"
    assert exchange.sent[-1].get("more_body") is True  # cut off, never ended normally
