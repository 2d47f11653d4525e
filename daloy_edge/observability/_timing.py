"""Server-Timing phases: measuring them, and deciding who may see them."""

from __future__ import annotations

import time

from daloy_edge._charset import TCHAR, Charset
from daloy_edge._errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from daloy_edge._request import Request
    from daloy_edge._response import Response
    from daloy_edge.types import CallNext, Middleware

__all__ = ["Timed", "phase", "trusted_clients"]

_NAME = Charset(TCHAR, max_len=64)


def _check(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ConfigError(f"Server-Timing names are HTTP tokens; got {name!r}")


class _Phase:
    """What :func:`phase` returns; the name is checked and the clock started when the
    block is entered. A class: ``contextlib.contextmanager`` would cost its import on
    every cold start."""

    __slots__ = ("_name", "_request", "_start")

    def __init__(self, request: Request, name: str) -> None:
        self._request = request
        self._name = name
        self._start = 0.0

    def __enter__(self) -> None:
        _check(self._name)
        self._start = time.perf_counter()

    def __exit__(self, *exc_info: object) -> None:
        # Recorded whether or not the block raised; an exception is never swallowed.
        self._request.timings.append((self._name, time.perf_counter() - self._start))


def phase(request: Request, name: str) -> _Phase:
    """Time a block as one Server-Timing entry (recorded even when the block raises).

    >>> from daloy_edge import Request
    >>> request = Request("GET", "/")
    >>> with phase(request, "db"):
    ...     pass
    >>> request.timings[0][0]
    'db'
    """
    return _Phase(request, name)


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

    if not networks:

        def nobody(request: Request) -> bool:
            return False

        return nobody

    # The answer for each client address seen (bounded: a full memo starts over), so a
    # returning client costs one lookup rather than parsing its address again.
    answers: dict[str, bool] = {}

    def allowed(request: Request) -> bool:
        client = request.client_ip
        if not client:
            return False
        answer = answers.get(client)
        if answer is None:
            answer = client in networks
            if len(answers) >= _ANSWERS_KEPT:
                answers.clear()
            answers[client] = answer
        return answer

    return allowed


_ANSWERS_KEPT = 1024
"""How many client addresses one ``trusted_clients`` predicate remembers."""
