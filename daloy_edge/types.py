"""The seams of daloy_edge: handlers, middleware, clocks and JSON values.

Everything a runtime adapter or a middleware needs to agree on lives here, so the
rest of the core can stay free of cross-imports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    from daloy_edge._request import Request
    from daloy_edge._response import Response

__all__ = [
    "JSON",
    "CallNext",
    "Clock",
    "Handler",
    "Middleware",
    "NonceStore",
    "RandomBytes",
    "RequestObserver",
]

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"
"""A JSON value as produced by :func:`daloy_edge.parse_json`."""

Handler: TypeAlias = "Callable[[Request], Awaitable[Response]]"
"""An async request handler after the app has normalised it."""

CallNext: TypeAlias = "Callable[[Request], Awaitable[Response]]"
"""The rest of the chain, as seen by a middleware."""

Clock: TypeAlias = Callable[[], float]
"""Returns seconds; wall clocks return Unix time, monotonic clocks any origin."""

RandomBytes: TypeAlias = Callable[[int], bytes]
"""Returns ``n`` cryptographically strong random bytes."""


@runtime_checkable
class Middleware(Protocol):
    """``async (request, call_next) -> Response``; built once, cheap per request."""

    async def __call__(self, request: Request, call_next: CallNext) -> Response: ...


class RequestObserver(Protocol):
    """Told about every finished request (logging, metrics, tracing).

    An observer may also define ``on_request(request) -> None``; the app then calls it
    first thing for every request (trace context, start time), before any middleware.
    """

    def on_response(
        self,
        request: Request,
        response: Response,
        duration_s: float,
        error: BaseException | None,
    ) -> None: ...


class NonceStore(Protocol):
    """Remembers keys for a while (webhook replay refusal, one-time tokens).

    Memory by default; Upstash/Redis (``SET key <claim> NX PX ttl``) for many instances.
    """

    async def add_if_absent(self, key: str, ttl_s: float) -> bool:
        """Record ``key`` for ``ttl_s`` seconds; False when it was already there."""
        ...

    async def discard(self, key: str) -> None:
        """Forget ``key`` (a delivery whose handling failed may be sent again)."""
        ...
