"""flask.Request to Request and back, with one event loop per worker thread."""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import IO, TYPE_CHECKING
from urllib.parse import quote, urlsplit

from daloy_edge import (
    App,
    BadRequest,
    GatewayTimeout,
    Headers,
    Request,
    Response,
    ServiceUnavailable,
)
from daloy_edge._runner import Runner, run_as_task
from daloy_edge.types import Handler
from daloy_edge_gcp_functions._limits import delivered

if TYPE_CHECKING:
    import flask
    from flask.typing import ResponseReturnValue, RouteCallable
    from werkzeug.exceptions import HTTPException

__all__ = ["GCFHandler", "from_response", "handler", "to_request"]

RUNTIME = "gcp-functions"
_CHUNK = 64 * 1024
_PATH_SAFE = "!$&'()*+,/:;=@%-._~"
_DECODED_PATH_SAFE = _PATH_SAFE.replace("%", "")

GCFHandler = Callable[["flask.Request"], "flask.Response"]
"""``def handler(request: flask.Request) -> flask.Response`` for functions-framework."""


def _raw_path(environ: Mapping[str, object]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw:
        path = raw.split("?", 1)[0]
        if not path.startswith("/"):
            path = urlsplit(raw).path or "/"
    else:
        # Decoded already: a "%" in it was sent as "%25", and is quoted again so that
        # the app decodes the path once, as sent.
        path = str(environ.get("PATH_INFO") or "/")
        path = quote(path.encode("latin-1", "replace"), safe=_DECODED_PATH_SAFE)
    if not path.isascii() or " " in path:
        # WSGI strings carry the request line's bytes as latin-1.
        path = quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE)
    return path


class _Body:
    """The request body, pulled chunk by chunk: a reader that stops at the body limit
    stops reading from the socket too. ``complete`` once it was read to its end.

    A read blocks the worker thread, where the app's deadline timer cannot fire; so
    when the server names the connection's socket (gunicorn, which functions-framework
    runs), each read is watched and cut off at the request's deadline (504): a client
    that sends its body a byte a second would otherwise hold the thread for as long as
    it likes.
    """

    __slots__ = ("_source", "complete", "cut", "encoded", "request", "socket")

    def __init__(self, source: IO[bytes], *, encoded: bool = False) -> None:
        self._source = source
        self.encoded = encoded
        self.complete = False
        self.cut = False
        self.socket: socket.socket | None = None
        self.request: Request | None = None

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        if self.complete:
            raise StopAsyncIteration
        if self.encoded:
            raise BadRequest("a transfer coding other than chunked")
        request = self.request
        end = request.deadline if request is not None and self.socket is not None else None
        if end is not None:
            _WATCHDOG.arm(self, end)
        try:
            chunk = self._source.read(_CHUNK)
        except Exception:
            if self.cut:
                raise GatewayTimeout("request deadline exceeded") from None
            # The server's reader fails on a malformed chunked body or a client that
            # went away: the client's doing, so a 400 as from every other runtime.
            raise BadRequest("the request body is malformed or was cut short") from None
        finally:
            if end is not None:
                _WATCHDOG.disarm(self)
        if self.cut:
            raise GatewayTimeout("request deadline exceeded")
        if not chunk:
            self.complete = True
            raise StopAsyncIteration
        return chunk


class _Watchdog:
    """One thread for the process that shuts the reading side of a connection whose body
    read is still blocked at its request's deadline, which ends the read at once.

    Started by the first watched read. Arming and disarming a read take the lock and
    touch a dict; the thread is woken only when a read is armed that ends before the
    time it sleeps until, which a steady deadline makes rare.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._armed: dict[_Body, float] = {}
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None

    def arm(self, body: _Body, end: float) -> None:
        with self._changed:
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, name="daloy-edge-body-deadline", daemon=True
                )
                try:
                    thread.start()
                except RuntimeError:
                    # No thread to be had (the process at its thread limit): the read is
                    # not made unwatched, and the next one tries again. Kept, the thread
                    # that never started left every later read uncut for good.
                    raise ServiceUnavailable(
                        "the request body cannot be read now", headers={"retry-after": "1"}
                    ) from None
                self._thread = thread
            elif end < self._wake_at:
                self._changed.notify()
            self._armed[body] = end

    def disarm(self, body: _Body) -> None:
        # Under the lock: once this returns, the connection (which the server may use
        # for its next request) is never shut for this body.
        with self._changed:
            self._armed.pop(body, None)

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for body, end in list(self._armed.items()):
                    if end <= now:
                        del self._armed[body]
                        self._cut(body)
                self._wake_at = min(self._armed.values(), default=math.inf)
                delay = self._wake_at - now
                # A deadline past the longest timed wait (a request_timeout meant as no
                # limit) is waited for untimed: timed, it raised OverflowError and ended
                # this thread, which cuts off the reads of every app in the process.
                self._changed.wait(None if delay >= threading.TIMEOUT_MAX else delay)

    @staticmethod
    def _cut(body: _Body) -> None:
        body.cut = True
        if body.socket is not None:
            # OSError: the client has gone already, and the read ends by itself.
            with contextlib.suppress(OSError):
                body.socket.shutdown(socket.SHUT_RD)


_WATCHDOG = _Watchdog()


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
        # gunicorn takes "gzip, chunked" and hands on the gzip data undecoded, which the
        # app would read as the content (h11 refuses such a request; httptools takes it
        # too, and the ASGI adapter refuses it alike).
        coding = environ.get("HTTP_TRANSFER_ENCODING")
        encoded = coding is not None and "".join(str(coding).split()).lower() != "chunked"
        body = _Body(request.stream, encoded=encoded)
    return Request(
        # Werkzeug upper-cases request.method; the core refuses a method in another case
        # (a proxy rule denying DELETE lets "delete" through), so it gets the one sent.
        str(environ.get("REQUEST_METHOD") or request.method),
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
    """Build the ``flask.Response``; every header, repeated ones included, is kept but
    the framing: the length is the body's, and the server chooses chunked coding."""
    import flask

    status = response.status
    out = flask.Response(body, status=_STATUS_LINES.get(status, status))
    # Flask adds a default text/html content type; only the app's headers may go out.
    out.headers.clear()
    for name, value in response.headers.items():
        # The server sends a handler's Content-Length as it is and cuts the body to it,
        # or frames the body by a Transfer-Encoding while the length goes out beside it.
        if name not in _FRAMING:
            out.headers.add(name, value)
    return out


_FRAMING = frozenset({"content-length", "transfer-encoding"})
# Werkzeug names a status by an int in capitals ("404 NOT FOUND", "418 I'M A TEAPOT");
# the reason phrases every other server sends.
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


_SERVES_APP = "daloy_edge_serves_app"
"""Marks a handler built here; ``functools.wraps`` copies it onto what wraps one, as
functions-framework's own view of the function it serves does."""


def _claim_flask_routes() -> None:
    # functions-framework serves the function from a Flask app that answers some paths
    # itself: its built-in /static/... route (OPTIONS included), a Flask 404 for paths
    # its router will not match (line breaks, /robots.txt), a Flask 400 for a Host its
    # router cannot encode ("a..b") and a Flask 308 for paths it redirects. Hand those
    # to the app as well, so every request gets the app's defenses, problem+json answers
    # and request line.
    import flask

    if not flask.has_app_context():
        return
    flask_app = flask.current_app
    views = flask_app.view_functions
    if "static" not in views or getattr(views["static"], _SERVES_APP, False):
        return
    flask_static = views["static"]

    # Looked up per request: one source file often builds a handler per function deployed
    # from it (``--entry-point users`` and ``--entry-point orders``). Kept from the first
    # handler built, these paths of the orders function were the users app's (its
    # /static/... and /robots.txt routes, its middleware, its request log).
    def static(filename: str) -> ResponseReturnValue:
        served = _served_handler()
        return flask_static(filename) if served is None else served("")  # type: ignore[return-value]

    def unrouted(error: HTTPException) -> ResponseReturnValue:
        served = _served_handler()
        return error if served is None else served("")  # type: ignore[return-value]

    setattr(static, _SERVES_APP, True)
    views["static"] = static
    for rule in flask_app.url_map.iter_rules("static"):
        # Flask would answer OPTIONS there itself (200 HTML, no CORS, no checks).
        rule.provide_automatic_options = False  # type: ignore[attr-defined]
    flask_app.register_error_handler(404, unrouted)
    flask_app.register_error_handler(400, unrouted)
    # Werkzeug's router redirects the empty path of an absolute-form target ("GET
    # http://host HTTP/1.1") to "/" with its own HTML 308, which no error handler sees.
    # Not strict about slashes, it routes it to functions-framework's "/" rule (added
    # after this, it takes the map's setting), so the app answers it.
    flask_app.url_map.strict_slashes = False


def _served_handler() -> RouteCallable | None:
    """functions-framework's view of the function it serves (``--target``), when that
    is a handler built here; None for any other function, which Flask answers for as
    it would without this package."""
    import flask

    view = flask.current_app.view_functions.get("run")
    return view if getattr(view, _SERVES_APP, False) else None


def handler(app: App) -> GCFHandler:
    """A functions-framework HTTP target serving ``app``.

    Each worker thread keeps one event loop for all its requests; start-up hooks run
    once, before the first request. Created while functions-framework loads the
    source file, it also takes over the paths Flask would answer itself
    (``/static/...``, unroutable paths), so every request reaches the app: the app of
    the function functions-framework serves, when the file builds one per function.

    >>> from daloy_edge import App
    >>> gcf_handler = handler(App())
    """
    # A loop per worker thread, closed when its thread ends: dropped unclosed, a loop
    # holds its selector, wake-up pipe and default executor until the collector finds its
    # cycle (a server running each request on a thread of its own, as functions-framework
    # --debug does, kept three descriptors and a thread for each past request).
    event_loop = Runner().event_loop
    lock = threading.Lock()
    state: dict[str, Handler] = {}

    def start() -> Handler:
        with lock:
            if "dispatch" not in state:
                dispatch = app.build(buffered=True)
                try:
                    run_as_task(event_loop(), app.startup())
                except Exception as exc:
                    # Kept for this request only: the next one runs the hooks again.
                    return app.start_failed(exc, buffered=True)
                state["dispatch"] = dispatch
        return state["dispatch"]

    def gcf_handler(request: flask.Request) -> flask.Response:
        dispatch = state.get("dispatch") or start()
        translated = to_request(request, app.env)
        # Checked before the request is logged: past it, Cloud Run answers its own 500.
        translated._deliverable = delivered
        reader = translated._body
        if isinstance(reader, _Body):
            reader.socket = request.environ.get("gunicorn.socket")
            reader.request = translated
        # Built buffered: a streamed body has been read already.
        response: Response = run_as_task(event_loop(), dispatch(translated))  # type: ignore[arg-type]
        if isinstance(reader, _Body):
            reader.request = None  # no cycle left for the collector
            if not reader.complete:
                _leave_unread(request)
        out = from_response(response, response.body)
        if translated.method == "HEAD":
            length = response.headers.get("content-length")
            if length is None:
                # The GET streams, its length unknown: none rather than Werkzeug's 0.
                out.automatically_set_content_length = False
            else:
                out.headers["content-length"] = length  # the length of the GET body
        return out

    setattr(gcf_handler, _SERVES_APP, True)
    _claim_flask_routes()
    return gcf_handler
