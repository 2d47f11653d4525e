"""HTTP scope to Request and back; lifespan; streaming bodies with back-pressure."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from daloy_edge import App, Headers, Request, Response

__all__ = ["ASGIApp", "to_request"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _body_stream(receive: Receive) -> AsyncIterator[bytes]:
    async def stream() -> AsyncIterator[bytes]:
        # Each chunk is pulled only when the reader asks for it, so a reader that stops
        # at the body limit stops the server from reading the rest off the socket.
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    return stream()


def to_request(scope: Scope, receive: Receive) -> Request:
    """Translate an ASGI HTTP scope into a :class:`Request` (the body stays unread)."""
    headers = Headers(
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", ())]
    )
    raw = scope.get("raw_path")
    raw_path = raw.decode("latin-1") if raw else quote(scope.get("path", "/"), safe="/%;:@&=+$,")
    raw_path = raw_path.split("?", 1)[0]
    client = scope.get("client")
    return Request(
        scope["method"],
        raw_path,
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        scheme="https" if scope.get("scheme") in ("https", "wss") else "http",
        client=client[0] if client else None,
        body=_body_stream(receive),
        runtime="asgi",
        sync_in_thread=True,
    )


async def _send_response(response: Response, send: Send, *, head: bool = False) -> None:
    headers = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in response.headers.items()
        if k != "content-length"
    ]
    if response.stream is None:
        # The body frames the message; only a HEAD answer (no body) states the length
        # its GET would have had.
        declared = response.headers.get("content-length") if head else None
        length = declared if declared is not None else str(len(response.body))
        headers.append((b"content-length", length.encode("latin-1")))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if response.body:
        await send({"type": "http.response.body", "body": response.body, "more_body": True})
    async for chunk in response.stream:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


class ASGIApp:
    """The ASGI 3 callable for an :class:`App`.

    The client address is the socket peer from the server; forwarded headers are only
    believed through the app's trusted-proxy configuration, never here.

    Security: turn the server's own forwarded-header handling off (``uvicorn
    --no-proxy-headers``; by default uvicorn believes ``X-Forwarded-For`` from
    127.0.0.1), or it replaces the peer address before the app's trusted-proxy
    configuration is consulted.
    """

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            response = await self.app.handle(to_request(scope, receive))
            await _send_response(response, send, head=scope["method"] == "HEAD")
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1003})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.app.build()
                    await self.app.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": type(exc).__name__})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.app.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
