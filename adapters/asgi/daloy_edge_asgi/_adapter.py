"""HTTP scope to Request and back; lifespan; streaming bodies with back-pressure."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_from_bytes, unquote

from daloy_edge import App, BadRequest, Headers, Request, Response
from daloy_edge._app import _cancelled
from daloy_edge._request import new_request
from daloy_edge._response import to_body

if TYPE_CHECKING:
    import asyncio

    from daloy_edge.types import Handler

__all__ = ["ASGIApp", "to_request"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Request header names as the server sent them -> lower-cased text. Clients send the same
# few names on every request; decoding and lowering each one every time was most of the
# cost of translating a scope. Clients also choose names, so the cache is bounded and a
# full one starts over.
_NAMES: dict[bytes, str] = {}
_NAMES_MAX = 256
_NAME_BYTES_MAX = 64

# Response header fields (name, value) -> their bytes, for the names below only: their
# values are the same on most responses (the content type, the secure-headers set, CORS)
# and never carry anything per user. Any other field (cookies, tokens an app puts in its
# own headers, request ids, nonces) is encoded afresh and never kept.
_ENCODED: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_ENCODED_MAX = 128
_VALUE_MAX = 1024
_REMEMBERED_NAMES = frozenset(
    {
        "access-control-allow-credentials",
        "access-control-allow-origin",
        "access-control-expose-headers",
        "cache-control",
        "content-encoding",
        "content-type",
        "cross-origin-embedder-policy",
        "cross-origin-opener-policy",
        "cross-origin-resource-policy",
        "permissions-policy",
        "ratelimit-policy",
        "referrer-policy",
        "strict-transport-security",
        "vary",
        "x-content-type-options",
        "x-frame-options",
    }
)
_encoded = _ENCODED.get
# What a decoded ``path`` keeps unescaped when a server passes no ``raw_path``.
_PATH_SAFE = "/;:@&=+$,"
# Statuses whose responses never carry content: RFC 9110 forbids Content-Length on 1xx
# and 204, and on 304 allows only the length the GET would have had, unknown here.
_BODILESS = frozenset({*range(100, 200), 204, 304})
# Fields that frame the message: the adapter states the length itself, and the server
# chooses chunked coding. A handler's Transfer-Encoding beside that length (sent both,
# RFC 9112 forbids it) frames the body two ways for whoever reads it.
_FRAMING = frozenset({"content-length", "transfer-encoding"})


class _ClientGone(BadRequest):
    """The client disconnected before its body's end (a 400 like any body cut short)."""


class _Body:
    """The request body as an async iterator of chunks, one ``receive()`` per chunk.

    Each chunk is pulled only when the reader asks for it, so a reader that stops at the
    body limit stops the server from reading the rest off the socket. A plain object
    rather than an async generator: most requests never read their body, and this is
    cheaper to create and to drop.
    """

    __slots__ = ("_done", "_receive", "_scope")

    def __init__(self, receive: Receive, scope: Scope | None = None) -> None:
        self._receive = receive
        self._done = False
        # Read for its Transfer-Encoding when the body is first asked for, not before:
        # most requests never read theirs.
        self._scope = scope

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        scope = self._scope
        if scope is not None:
            self._scope = None
            if _coded(scope):
                self._done = True
                raise BadRequest("a transfer coding other than chunked")
        while not self._done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._done = True
                # Without this a chunked body cut short would reach the handler as if whole.
                raise _ClientGone("the client disconnected before the body was complete")
            self._done = not message.get("more_body", False)
            chunk: bytes = message.get("body", b"")
            if chunk:
                return chunk
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop reading: later iterations end without receiving anything."""
        self._done = True

    def settled(self, request: Request) -> bool:
        """True when no body message is left for anyone but the disconnect: the body was
        read to its end, or the request announced none."""
        if self._done:
            return True
        length = request.headers.get("content-length")
        chunked = "transfer-encoding" in request.headers
        return not chunked and (length is None or length.strip() == "0")


def _coded(scope: Scope) -> bool:
    """True when the body came in a transfer coding besides chunked: uvicorn with
    httptools takes ``Transfer-Encoding: gzip, chunked`` and passes the gzip data on as
    it came, which the app would read as the content (h11 refuses such a request)."""
    codings = [
        value for name, value in scope.get("headers", ()) if name.lower() == b"transfer-encoding"
    ]
    return bool(codings) and b"".join(b",".join(codings).split()).lower() != b"chunked"


async def _disconnect(receive: Receive) -> None:
    """Return once the client has gone (the empty ``http.request`` of a bodiless request
    that nobody read is passed over)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _settle(request: Request) -> bool:
    """Read the body the route left unread, under its limit, before its stream is pulled:
    only then can the disconnect be watched (``receive`` gives the body's messages
    first). Left unread, an endless stream to a client that sent any body (a GET with a
    Content-Length) was pulled for good once the client had gone. The stream may still
    read the body; a read that failed (413, cut short) fails again for it. False when
    the client left before its body's end: the disconnect was this read's, and a server
    that tells it once (Hypercorn) has none left for the watch."""
    from contextlib import suppress  # asyncio has loaded it already

    # The route has answered: no problem replaces its answer for a failed read.
    with suppress(Exception):
        try:
            await request.body()
        except _ClientGone:
            return False
    return True


def to_request(scope: Scope, receive: Receive) -> Request:
    """Translate an ASGI HTTP scope into a :class:`Request` (the body stays unread)."""
    return _to_request(scope, _Body(receive, scope))


def _to_request(scope: Scope, body: _Body) -> Request:
    names = _NAMES
    items: list[tuple[str, str]] = []
    for name, value in scope.get("headers", ()):
        key = names.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
            if len(name) <= _NAME_BYTES_MAX:
                if len(names) >= _NAMES_MAX:
                    names.clear()
                names[name] = key
        items.append((key, value.decode("latin-1")))
    raw = scope.get("raw_path")
    if raw:
        raw_path = raw.decode("latin-1")
        if raw[0] != 0x2F:  # no "/": an index, as a slice costs an object on every request
            raw_path = _origin_form(raw_path)
    else:
        raw_path = _quote_path(scope.get("path", "/"))
    if "?" in raw_path:
        raw_path = raw_path.split("?", 1)[0]
    root = scope.get("root_path")
    if root:  # served under a prefix: most servers pass ""
        raw_path = _below_root(raw_path, root, scope.get("path", ""))
    query = scope.get("query_string")
    query_string = query.decode("latin-1") if query else ""
    # ``isascii`` on text is a flag lookup: the common request pays nothing.
    if not raw_path.isascii():
        raw_path = _escape_non_ascii(raw_path)
    if not query_string.isascii():
        query_string = _escape_non_ascii(query_string)
    client = scope.get("client")
    request = new_request(
        scope["method"],
        raw_path,
        query_string=query_string,
        headers=Headers._from_received(items),
        scheme="https" if scope.get("scheme") in ("https", "wss") else "http",
        client=client[0] if client else None,
        body=body,
        env=None,
        runtime="asgi",
    )
    request.sync_in_thread = True
    if root:
        request.root_path = root
    return request


def _origin_form(target: str) -> str:
    """The path of an absolute-form target (``http://host/path``), which a server must
    accept (RFC 9112 3.2.2): uvicorn with httptools, and functions-framework, pass the
    path on, and uvicorn with h11 the whole target. Anything else (``*``, ``host:443``)
    is left for the app's path check to refuse.

    The authority ends at the first ``/``, ``?`` or ``#`` (RFC 3986 3.2): in
    ``http://host#/admin`` the path is empty and ``/admin`` the fragment, as gunicorn
    and every URL parser read it, not a path to serve.
    """
    scheme, separator, rest = target.partition("://")
    if not separator or scheme.lower() not in ("http", "https"):
        return target
    end = len(rest)
    for mark in "/?#":
        found = rest.find(mark, 0, end)
        if found >= 0:
            end = found
    path = rest[end:]
    return path if path[:1] == "/" else "/" + path


def _below_root(raw_path: str, root: str, path: str) -> str:
    """``raw_path`` without the ``root_path`` prefix the app is mounted under.

    ``path`` and ``raw_path`` include ``root_path`` (uvicorn ``--root-path``, a
    Starlette ``Mount``), so routes would never match below it. A ``path`` that does not
    start with it (older servers left it out) is the app's own already.
    """
    size = len(root)
    if not path.startswith(root) or path[size : size + 1] not in ("", "/"):
        # uvicorn with h11 puts the root_path ahead of an absolute-form target as it
        # came ("/apihttp://host/path"), which is served without a root_path.
        if raw_path.startswith(root) and "://" in raw_path[size : size + 8]:
            return _origin_form(raw_path[size:])
        return raw_path
    if raw_path.startswith(root) and raw_path[size : size + 1] in ("", "/"):
        return raw_path[size:]
    # The client spelled the prefix with escapes (``/s%75b``): as many segments off.
    segments = root.count("/") + 1
    parts = raw_path.split("/", segments)
    if unquote("/".join(parts[:segments])) == root:
        return "/" + parts[segments] if len(parts) > segments else "/"
    return _quote_path(path[size:])


def _quote_path(path: str) -> str:
    """A decoded ``path`` escaped back, for a server that passes no ``raw_path``.

    Every ``%`` is escaped too: one in a decoded path was sent as ``%25``, and left as it
    is, the app decoded the path a second time (Mangum's ``/static/hello%2etxt``, sent as
    ``hello%252etxt``, served ``hello.txt``).

    Mangum takes the path from the event's JSON, which can hold a lone surrogate
    (``"\\ud800"``) strict UTF-8 cannot encode: escaped as the bytes it stands for, it
    is refused as invalid UTF-8 (400), as the Lambda adapter refuses it.
    """
    return quote(path, safe=_PATH_SAFE, errors="surrogatepass")


_ASCII = bytes(range(128))


def _escape_non_ascii(text: str) -> str:
    """``text`` (bytes read as latin-1) with each byte past ASCII percent-encoded.

    A request target holds none, yet some servers and Mangum (an HTTP API's raw query)
    pass UTF-8 bytes on; escaped as a client must send them, they are read as UTF-8
    from here as from every other runtime (read as latin-1, "é" was "Ã©").
    """
    return quote_from_bytes(text.encode("latin-1"), safe=_ASCII)


def _fields(response: Response, head: bool) -> list[tuple[bytes, bytes]]:
    """The header fields of the ``http.response.start`` message for ``response``.

    A bytes body frames the message with its own length; only a HEAD answer (no body)
    states the length its GET would have had. A handler's ``Transfer-Encoding`` is
    never sent. A streamed body states none, nor does a status that has no content
    (1xx, 204, 304), whose body the app has already dropped.
    """
    fields: list[tuple[bytes, bytes]] = []
    declared = None
    try:
        for pair in response.headers._items:
            encoded = _encoded(pair)
            if encoded is None:
                name, value = pair
                if name in _FRAMING:
                    if declared is None and name == "content-length":
                        declared = value
                    continue
                encoded = (name.encode("latin-1"), value.encode("latin-1"))
                if name in _REMEMBERED_NAMES and len(value) <= _VALUE_MAX:
                    if len(_ENCODED) >= _ENCODED_MAX:
                        _ENCODED.clear()
                    _ENCODED[pair] = encoded
            fields.append(encoded)
    except TypeError:  # a field given as a list, not a tuple: no cache key
        fields = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers._items
            if k not in _FRAMING
        ]
        declared = response.headers.get("content-length")
    if response.stream is None:
        body = response.body
        if head:
            # No length when the GET's is unknown (it streams): none rather than 0.
            if declared is not None and response.status not in _BODILESS:
                fields.append((b"content-length", declared.encode("latin-1")))
        elif response.status not in _BODILESS:
            fields.append((b"content-length", b"%d" % len(body)))
    return fields


async def _send_stream(
    start: Message,
    first: bytes,
    stream: AsyncIterable[bytes | str],
    send: Send,
    receive: Receive,
    *,
    unread: Request | None,
) -> None:
    """Send the head ``start``, then ``first`` and the ``stream``, and stop pulling the
    stream once the client has disconnected, since servers drop what is sent after that
    without a word and an endless stream would never end. ``unread``: the request whose
    body is read first (see :func:`_settle`), before the head: a client that sent
    ``Expect: 100-continue`` is asked for its body only while no answer has started, and
    one that got the head first need never send it (RFC 9110), so the stream waited for
    good. The stream is closed however this ends: a client gone before the head, a
    cancellation while the body is read."""
    gone = None
    try:
        if unread is not None and not await _settle(unread):
            return
        await send(start)
        gone = _watch(receive)
        if first:
            await send({"type": "http.response.body", "body": first, "more_body": True})
        chunks = aiter(stream)
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            except BaseException as exc:
                if _cancelled(exc):
                    raise
                # The head has gone, so no problem can answer. Ended without its last
                # message, the body is cut off (the server closes the connection: no
                # final chunk) for the client to see; raised on, the server printed
                # the error's text, unredacted, beside the app's redacted record.
                return
            if gone is not None and gone.done():
                return
            if type(chunk) is not bytes:
                # Servers send bytes only, and fail mid-answer on anything else (text, an
                # int), printing the error: text is sent as UTF-8, and what cannot be
                # sent (text with a lone surrogate, no bytes at all) cuts the body off
                # as a failing stream does.
                try:
                    chunk = to_body(chunk)
                except (TypeError, ValueError):
                    return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        if gone is not None:
            gone.cancel()
        close = getattr(stream, "aclose", None)
        if close is not None:
            from contextlib import suppress  # asyncio has loaded it already

            # Failing as a stream that fails mid-body: raised on, it reached the server,
            # which printed its text unredacted.
            with suppress(Exception):
                await close()


def _watch(receive: Receive) -> asyncio.Future[None] | None:
    import asyncio

    try:
        return asyncio.ensure_future(_disconnect(receive))
    except RuntimeError:  # not running on asyncio
        return None


class _ForeignLoop(RuntimeError):
    """The server runs the app on an event loop that is not asyncio's."""


def _check_event_loop() -> None:
    """Refuse to start on an event loop other than asyncio's (or one built on it, such as
    uvloop). The request deadline, load shedding, sync handlers and outbound calls run on
    asyncio: under ``hypercorn -k trio`` the app served with no deadline at all (a
    handler awaiting ``trio.sleep`` answered long past it) and every sync handler was a
    500 ("no running event loop")."""
    import asyncio

    if asyncio.events._get_running_loop() is None:
        raise _ForeignLoop(
            "daloy_edge runs on asyncio (or uvloop), and this server runs the app on another"
            " event loop (hypercorn -k trio): serve it with asyncio (hypercorn -k asyncio)"
        )


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
        # ``App.handle`` once start-up is done is its built handler: called directly, one
        # coroutine fewer per request. Not for a subclass that overrides ``handle``.
        self._direct = type(app).handle is App.handle
        self._dispatch: Handler | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            # A reader even when no header announces a body: gateways (Mangum) build
            # HTTP/1.1 scopes for bodies that no Content-Length states.
            body = _Body(receive, scope)
            request = _to_request(scope, body)
            dispatch = self._dispatch
            if dispatch is not None:
                response = await dispatch(request)
            else:
                response = await self.app.handle(request)
                if self._direct and self.app.started:
                    self._dispatch = self.app.build()
            fields = _fields(response, scope["method"] == "HEAD")
            start = {"type": "http.response.start", "status": response.status, "headers": fields}
            try:
                if response.stream is None:
                    await send(start)
                    # A bytes body goes out as one message, which also ends the response.
                    await send({"type": "http.response.body", "body": response.body})
                else:
                    unread = None if body.settled(request) else request
                    await _send_stream(
                        start, response.body, response.stream, send, receive, unread=unread
                    )
            except OSError:
                # The client has gone (ASGI 2.4 servers raise an OSError from ``send`` on a
                # closed connection): nobody is left to answer, and the request is logged.
                return
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            try:
                await self._websocket(scope, receive, send)
            except OSError:
                return  # gone before its answer, as for HTTP above (the app logs the request)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a WebSocket handshake as the plain GET it is on every other runtime.

        The app serves no WebSockets. A server with the ``websocket.http.response``
        extension (uvicorn, Hypercorn) sends the app's own answer, with its headers,
        request id and request line; without it, closing makes the server answer 403
        itself, bare.
        """
        if "websocket.http.response" not in (scope.get("extensions") or ()):
            await send({"type": "websocket.close", "code": 1003})
            return
        if (await receive())["type"] != "websocket.connect":
            return  # the client has gone
        body = _Body(receive)
        body._done = True  # a handshake carries no body; the next message is no part of one
        response = await self.app.handle(_to_request({**scope, "method": "GET"}, body))
        stream = response.stream
        if stream is not None:
            # Servers collect such an answer whole before they send it: read here, an
            # event feed that never ends was held in memory without bound (hundreds of MB
            # a second) for anyone who asked to upgrade, and a failing stream's error was
            # raised into the server. No client reads the body of a refused handshake.
            response.stream = None
            close = getattr(stream, "aclose", None)
            if close is not None:
                from contextlib import suppress  # asyncio has loaded it already

                # Raised on, the handshake got no answer from the app at all.
                with suppress(Exception):
                    await close()
        content = response.body
        fields = _fields(response, head=False)
        await send(
            {"type": "websocket.http.response.start", "status": response.status, "headers": fields}
        )
        await send({"type": "websocket.http.response.body", "body": content})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    _check_event_loop()
                    self.app.build()
                    await self.app.startup()
                except Exception as exc:
                    self._log_failure("the app could not start")
                    # Only the adapter's own text goes to the server, which prints it.
                    told = str(exc) if isinstance(exc, _ForeignLoop) else type(exc).__name__
                    await send({"type": "lifespan.startup.failed", "message": told})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.app.shutdown()
                except Exception as exc:
                    self._log_failure("the app's shut-down failed")
                    await send({"type": "lifespan.shutdown.failed", "message": type(exc).__name__})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _log_failure(self, message: str) -> None:
        """Write the exception being handled as an ERROR record of the app's log.

        The server is told its type alone: it prints what it is told unredacted, and an
        exception's text can hold a secret (a database URL with its password). Yet the
        server then exits, and without this record the type was all an operator had to
        go on: no message, no trace.
        """
        from daloy_edge.observability import RequestLogger, get_logger

        log = self.app.request_log
        logger = get_logger() if log is None else RequestLogger(log, None, {}, "asgi")
        logger.exception(message)
