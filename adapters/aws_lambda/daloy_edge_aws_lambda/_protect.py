"""Security middleware around a plain ``def handler(event, context)``, unchanged."""

from __future__ import annotations

import functools
import inspect
from base64 import b64decode
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from daloy_edge import App, ConfigError, Headers, Request, Response
from daloy_edge._runner import call_outside_loop
from daloy_edge.types import Middleware
from daloy_edge_aws_lambda._handler import DEFAULT_FLUSH_MARGIN_MS, LambdaHandler, handler

__all__ = ["PlainHandler", "current_request", "protect"]

PlainHandler = Callable[..., object]
"""A Lambda handler written without daloy_edge: ``(event, context) -> result``."""

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_CURRENT: ContextVar[Request] = ContextVar("daloy_edge_aws_lambda_request")
_LAYERS = "__daloy_edge_protect__"


@dataclass(frozen=True, slots=True)
class _Layers:
    """What a protect()-ed handler was made of, for a protect() stacked on it."""

    handler: object
    fn: PlainHandler
    middleware: tuple[Middleware, ...]
    options: Mapping[str, object]


def _unstack(
    fn: PlainHandler, middleware: tuple[Middleware, ...], options: dict[str, object]
) -> tuple[PlainHandler, tuple[Middleware, ...], dict[str, object]]:
    # protect(a) over protect(b) is protect(a, b): one app, so one request id, one log
    # line, and the body limit, deadline and headers applied once.
    layers: _Layers | None = getattr(fn, _LAYERS, None)
    if layers is None:
        return fn, middleware, options
    if layers.handler is not fn:
        # functools.wraps copied the mark: another decorator sits between the two.
        name = getattr(layers.fn, "__name__", "handler")
        raise ConfigError(
            f"protect() over a decorator over a protect()-ed {name!r} "
            "would serve each request twice (two request ids and log lines); put the "
            "protect() layers next to each other"
        )
    merged = dict(layers.options)
    for name, value in options.items():
        if name in merged and merged[name] != value:
            # env is not shown: its values may be secrets.
            shown = "" if name == "env" else f" ({value!r} over {merged[name]!r})"
            raise ConfigError(
                f"stacked protect() layers set {name} differently{shown}; set it on one"
            )
        merged[name] = value
    return layers.fn, middleware + layers.middleware, merged


def current_request() -> Request:
    """The request being served, inside a :func:`protect`-ed handler.

    What the middleware learnt (``principal``, ``session``, ``client_ip``, ``state``)
    is on it; raises ``LookupError`` outside an invocation.
    """
    return _CURRENT.get()


def _text(value: object, field: str) -> str:
    # A number is written out as API Gateway writes one; a list, a bool or a dict is
    # the handler's error (500), not a header reading "['a', 'b']" or "True".
    if type(value) is str:
        return value
    if type(value) is int or type(value) is float:
        return str(value)
    raise TypeError(f"the handler returned a {type(value).__name__} in {field}")


def _lines(values: object, field: str) -> list[object] | tuple[object, ...]:
    if values is None:
        return ()
    if type(values) is list or type(values) is tuple:
        return values
    # A string here would be iterated character by character, one field each.
    raise TypeError(f"the handler returned a {type(values).__name__} as {field}")


_FLAGS = {"true": True, "True": True, "false": False, "False": False}


def _flag(value: object) -> bool:
    # API Gateway reads the strings "true" and "false" as the booleans; any other value,
    # truthy as "false", "0" and 1 all are, is the handler's error, not a body decoded.
    flag = _FLAGS.get(value) if type(value) is str else None
    if flag is None:
        raise TypeError(f"the handler returned isBase64Encoded {value!r}")
    return flag


def _status(value: object) -> int:
    # API Gateway reads "200" as 200; int() would also read 200.5, " 200", "2_00"
    # and Arabic-Indic digits, each the handler's error rather than a status it meant.
    if type(value) is int:
        status = value
    elif isinstance(value, int) and type(value) is not bool:
        # An IntEnum such as HTTPStatus.CREATED, which Powertools' resolvers pass on
        # from a route: JSON writes its value, and the gateway sends that status. Read
        # with int's own conversion, as JSON reads it, not a subclass's __int__.
        status = int.__int__(value)
    elif (type(value) is str and value.isascii() and value.isdigit()) or (
        type(value) is float and value.is_integer()
    ):
        status = int(value)
    else:
        raise TypeError(f"the handler returned status {value!r}")
    if not 100 <= status <= 599:
        raise ValueError(f"the handler returned status {status}")
    return status


def _proxy_response(result: Mapping[str, Any]) -> Response:
    fields: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    for name, values in multi.items():
        for value in _lines(values, "multiValueHeaders"):
            if value is not None:
                fields.append((name, _text(value, "multiValueHeaders")))
    single = result.get("headers") or {}
    if multi:
        # API Gateway's merge: multiValueHeaders wins for a name in both, spelt in any
        # case; "content-type" beside "Content-Type" went out as both, and a browser reads
        # "application/json, text/html" as the last one.
        taken = {str.lower(name) for name in multi}
        single = {name: value for name, value in single.items() if str.lower(name) not in taken}
    for name, value in single.items():
        if value is not None:
            fields.append((name, _text(value, "headers")))
    for cookie in _lines(result.get("cookies"), "cookies"):
        fields.append(("set-cookie", _text(cookie, "cookies")))
    body = result.get("body") or ""
    encoded = result.get("isBase64Encoded")
    if encoded is not None and type(encoded) is not bool:
        encoded = _flag(encoded)
    data: bytes | str
    if isinstance(body, str):
        # validate: "!!!!" is no base64, not an empty body. Text is passed on as text, so
        # it is typed as a route's str body is: encoded here, {"body": f"hello {name}"}
        # went out untyped, and a browser without nosniff ran a <script> in the name.
        data = b64decode(body, validate=True) if encoded else body
    elif isinstance(body, bytes | bytearray) and not encoded:
        data = bytes(body)
    else:
        # bytes(5) would be five NUL bytes: an odd result is the handler's error (500).
        raise TypeError(f"the handler returned a {type(body).__name__} body")
    status = _status(result["statusCode"])
    # Checked as for a Response a route builds: a line break would split the field, and
    # a name that is no token or a value past U+00FF is one each runtime fails its own way.
    return Response(data, status, Headers(fields))


def _endpoint(fn: PlainHandler) -> Callable[[Request], Awaitable[object]]:
    # A sync one is called as the Lambda runtime would, with no event loop running, so
    # that one driving its own coroutines (``asyncio.run(main())``) keeps working.
    call_fn = fn if inspect.iscoroutinefunction(fn) else functools.partial(call_outside_loop, fn)

    async def call(request: Request) -> object:
        # The handler reads event["body"] itself; reading it here first applies the body
        # limit (413) and refuses invalid base64 (400) before the handler ever runs.
        await request.body()
        token = _CURRENT.set(request)
        try:
            result = call_fn(request.state["aws.event"], request.state["aws.context"])
            if inspect.isawaitable(result):
                result = await result
        finally:
            _CURRENT.reset(token)
        if isinstance(result, Mapping) and "statusCode" in result:
            return _proxy_response(result)
        return result

    return call


def protect(
    *middleware: Middleware,
    env: Mapping[str, str] | None = None,
    max_body: int | None = None,
    request_timeout: float | None = None,
    flush_margin_ms: int | None = None,
    trust_alb_forwarded_for: bool | None = None,
) -> Callable[[PlainHandler], LambdaHandler]:
    """Decorate a plain Lambda handler with daloy_edge middleware and defaults.

    The handler (sync or async) keeps its signature and its proxy-integration result; a
    sync one is called with no event loop running, so ``asyncio.run`` inside it works.
    Every request first passes the app defaults (sanitation, limits, deadline, request
    id, problem+json errors) and then ``middleware`` in order; a middleware that refuses
    answers without the handler ever running. Inside the handler,
    :func:`current_request` gives what the middleware established. A configuration the
    middleware refuses raises :class:`~daloy_edge.ConfigError` here, at import. An option
    left ``None`` takes its default: the environment, the app's body limit, 10 s,
    :data:`DEFAULT_FLUSH_MARGIN_MS`, ``False``.

    Stacked directly, ``protect(a)`` over ``protect(b)`` is ``protect(a, b)``: one app,
    ``a`` running first, the options of both layers, and a :class:`~daloy_edge.ConfigError`
    when the layers set one option differently or another decorator sits between them.

    >>> @protect()
    ... def lambda_handler(event, context):
    ...     return {"statusCode": 200, "body": "hello"}
    """

    given: dict[str, object] = {
        name: value
        for name, value in (
            ("env", env),
            ("max_body", max_body),
            ("request_timeout", request_timeout),
            ("flush_margin_ms", flush_margin_ms),
            ("trust_alb_forwarded_for", trust_alb_forwarded_for),
        )
        if value is not None
    }

    def decorate(fn: PlainHandler) -> LambdaHandler:
        fn, layers, options = _unstack(fn, middleware, given)
        wrapped = _protected(fn, layers, **options)  # type: ignore[arg-type]
        functools.update_wrapper(wrapped, fn)
        setattr(wrapped, _LAYERS, _Layers(wrapped, fn, layers, options))
        return wrapped

    return decorate


def _protected(
    fn: PlainHandler,
    middleware: tuple[Middleware, ...],
    *,
    env: Mapping[str, str] | None = None,
    max_body: int | None = None,
    request_timeout: float = 10.0,
    flush_margin_ms: int = DEFAULT_FLUSH_MARGIN_MS,
    trust_alb_forwarded_for: bool = False,
) -> LambdaHandler:
    app = App(
        middleware=middleware,
        env=env,
        request_timeout=request_timeout,
        name=getattr(fn, "__name__", "lambda"),
    )
    if max_body is not None:
        if not max_body > 0:  # NaN too: no body would ever exceed it
            raise ConfigError("max_body must be positive")
        app.max_body = max_body
    endpoint = _endpoint(fn)
    app.add_route("/", endpoint, _METHODS)
    app.add_route("/{path:path}", endpoint, _METHODS)
    # Built now, in the init phase: middleware that refuses the app (sessions without
    # CSRF, one object given twice) stops the import rather than fail every invocation.
    app.build(buffered=True)
    return handler(
        app,
        flush_margin_ms=flush_margin_ms,
        trust_alb_forwarded_for=trust_alb_forwarded_for,
    )
