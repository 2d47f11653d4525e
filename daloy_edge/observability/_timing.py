"""Server-Timing phases: measuring them, and deciding who may see them."""

from __future__ import annotations

import re
import time
from contextlib import contextmanager

from daloy_edge._errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from daloy_edge._request import Request
    from daloy_edge._response import Response
    from daloy_edge.types import CallNext, Middleware

__all__ = ["Timed", "phase", "trusted_clients"]

_NAME = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}"


def _check(name: str) -> None:
    if not re.fullmatch(_NAME, name):
        raise ConfigError(f"Server-Timing names are HTTP tokens; got {name!r}")


@contextmanager
def phase(request: Request, name: str) -> Iterator[None]:
    """Time a block as one Server-Timing entry (recorded even when the block raises).

    >>> from daloy_edge import Request
    >>> request = Request("GET", "/")
    >>> with phase(request, "db"):
    ...     pass
    >>> request.timings[0][0]
    'db'
    """
    _check(name)
    start = time.perf_counter()
    try:
        yield
    finally:
        request.timings.append((name, time.perf_counter() - start))


class Timed:
    """Wrap a middleware so its own time (not the handler's) becomes a Server-Timing phase.

    >>> from daloy_edge import App
    >>> class Auth:
    ...     async def __call__(self, request, call_next): return await call_next(request)
    >>> app = App(middleware=[Timed("auth", Auth())])
    """

    __slots__ = ("inner", "name")

    def __init__(self, name: str, inner: Middleware) -> None:
        _check(name)
        self.name = name
        self.inner = inner

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        inside = 0.0

        async def measured_next(req: Request) -> Response:
            nonlocal inside
            began = time.perf_counter()
            try:
                return await call_next(req)
            finally:
                inside += time.perf_counter() - began

        start = time.perf_counter()
        try:
            return await self.inner(request, measured_next)
        finally:
            request.timings.append((self.name, time.perf_counter() - start - inside))


def trusted_clients(*cidrs: str) -> Callable[[Request], bool]:
    """A predicate for ``App(server_timing_phases=...)``: True for clients in ``cidrs``.

    Uses ``request.client_ip`` (after trusted-proxy resolution), so a spoofed
    ``X-Forwarded-For`` cannot unlock the detail.

    >>> show = trusted_clients("10.0.0.0/8")
    """
    from daloy_edge._netaddr import NetworkSet

    try:
        networks = NetworkSet((c.strip() for c in cidrs if c.strip()), strict=False)
    except ValueError as exc:
        raise ConfigError(f"invalid CIDR for Server-Timing: {exc}") from None

    def allowed(request: Request) -> bool:
        client = request.client_ip
        return bool(client) and bool(networks) and client in networks

    return allowed
