"""flask.Request to Request and back, with one event loop per worker thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING
from urllib.parse import quote, urlsplit

from daloy_edge import App, BadRequest, Headers, Request, Response
from daloy_edge.types import Handler

if TYPE_CHECKING:
    import flask

__all__ = ["GCFHandler", "from_response", "handler", "to_request"]

RUNTIME = "gcp-functions"
_CHUNK = 64 * 1024
_PATH_SAFE = "!$&'()*+,/:;=@%-._~"

GCFHandler = Callable[["flask.Request"], "flask.Response"]
"""``def handler(request: flask.Request) -> flask.Response`` for functions-framework."""


def _raw_path(environ: Mapping[str, object]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw:
        path = raw.split("?", 1)[0]
        if not path.startswith("/"):
            path = urlsplit(raw).path or "/"
    else:
        path = str(environ.get("PATH_INFO") or "/")
        path = quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE)
    if not path.isascii() or " " in path:
        # WSGI strings carry the request line's bytes as latin-1.
        path = quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE)
    return path


class _Body:
    """The request body, pulled chunk by chunk: a reader that stops at the body limit
    stops reading from the socket too. ``complete`` once it was read to its end."""

    __slots__ = ("_source", "complete")

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.complete = False

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        if self.complete:
            raise StopAsyncIteration
        try:
            chunk = self._source.read(_CHUNK)
        except Exception:
            # The server's reader fails on a malformed chunked body or a client that
            # went away: the client's doing, so a 400 as from every other runtime.
            raise BadRequest("the request body is malformed or was cut short") from None
        if not chunk:
            self.complete = True
            raise StopAsyncIteration
        return chunk


def _leave_unread(request: flask.Request) -> None:
    """Keep functions-framework from reading what the app did not: after every response
    it reads the rest of the body into memory (``get_data``), which would undo the body
    limit. The server discards the rest as it reads the next request."""
    request._cached_data = b""


def to_request(request: flask.Request, env: Mapping[str, str] | None = None) -> Request:
    """Translate a ``flask.Request`` into a :class:`Request` (the body stays unread).

    The client address is ``request.remote_addr`` as the runtime reports it; forwarded
    headers are believed only through the app's trusted-proxy configuration.
    """
    environ = request.environ
    body: bytes | _Body = b""
    if request.content_length != 0:
        body = _Body(request.stream)
    return Request(
        request.method,
        _raw_path(environ),
        query_string=str(environ.get("QUERY_STRING") or ""),
        headers=Headers(list(request.headers.items())),
        scheme=request.scheme,
        client=request.remote_addr,
        body=body,
        env=env,
        runtime=RUNTIME,
    )


def from_response(response: Response, body: bytes) -> flask.Response:
    """Build the ``flask.Response``; every header, repeated ones included, is kept."""
    import flask

    out = flask.Response(body, status=response.status)
    # Flask adds a default text/html content type; only the app's headers may go out.
    out.headers.clear()
    for name, value in response.headers.items():
        out.headers.add(name, value)
    return out


async def _serve(dispatch: Handler, request: Request) -> tuple[Response, bytes]:
    response = await dispatch(request)
    body = response.body if response.stream is None else await response.read()
    return response, body


class _Loops(threading.local):
    loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        loop = self.loop
        if loop is None or loop.is_closed():
            loop = self.loop = asyncio.new_event_loop()
        return loop


def _claim_flask_routes(target: GCFHandler) -> None:
    # functions-framework serves the function from a Flask app that answers some paths
    # itself: its built-in /static/... route (OPTIONS included), a Flask 404 for paths
    # its router will not match (line breaks, /robots.txt), and a Flask 400 for a Host
    # its router cannot encode ("a..b"). Hand those to the app as well, so every request
    # gets the app's defenses, problem+json answers and request line.
    import flask

    if not flask.has_app_context():
        return
    flask_app = flask.current_app
    views = flask_app.view_functions
    if "static" not in views or getattr(views["static"], "daloy_edge_target", None):
        return

    def static(filename: str) -> flask.Response:
        return target(flask.request)

    def unrouted(error: Exception) -> flask.Response:
        return target(flask.request)

    static.daloy_edge_target = target  # type: ignore[attr-defined]
    views["static"] = static
    for rule in flask_app.url_map.iter_rules("static"):
        # Flask would answer OPTIONS there itself (200 HTML, no CORS, no checks).
        rule.provide_automatic_options = False  # type: ignore[attr-defined]
    flask_app.register_error_handler(404, unrouted)
    flask_app.register_error_handler(400, unrouted)


def handler(app: App) -> GCFHandler:
    """A functions-framework HTTP target serving ``app``.

    Each worker thread keeps one event loop for all its requests; start-up hooks run
    once, before the first request. Created while functions-framework loads the
    source file, it also takes over the paths Flask would answer itself
    (``/static/...``, unroutable paths), so every request reaches the app.

    >>> from daloy_edge import App
    >>> gcf_handler = handler(App())
    """
    loops = _Loops()
    lock = threading.Lock()
    state: dict[str, Handler] = {}

    def start() -> Handler:
        with lock:
            if "dispatch" not in state:
                dispatch = app.build()
                loops.get().run_until_complete(app.startup())
                state["dispatch"] = dispatch
        return state["dispatch"]

    def gcf_handler(request: flask.Request) -> flask.Response:
        dispatch = state.get("dispatch") or start()
        translated = to_request(request, app.env)
        reader = translated._body
        response, body = loops.get().run_until_complete(_serve(dispatch, translated))
        if isinstance(reader, _Body) and not reader.complete:
            _leave_unread(request)
        out = from_response(response, body)
        if not body and translated.method == "HEAD" and "content-length" not in response.headers:
            # The GET streams, its length unknown: none rather than Werkzeug's 0.
            out.automatically_set_content_length = False
        return out

    _claim_flask_routes(gcf_handler)
    return gcf_handler
