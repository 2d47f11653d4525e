"""Guarded outbound clients: the policy on every hop, bounded time and size.

:class:`GuardedClient` (CPython) resolves names itself and connects only to vetted
addresses. :class:`PolicyOnlyClient` (runtimes without a DNS API, such as Cloudflare
Workers) applies the same rules to URLs, literal addresses and names, but cannot see what a
name resolves to. Both follow redirects themselves and implement
:class:`~daloy_edge.transport.HTTPTransport`, so anything written against that protocol
can be pointed at user-supplied URLs safely.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from daloy_edge import _copies, _timeout
from daloy_edge._record import record
from daloy_edge.egress._errors import EgressDenied, EgressFailed, EgressTimeout
from daloy_edge.egress._limits import FetchLimits
from daloy_edge.egress._policy import EgressPolicy
from daloy_edge.egress._redirects import (
    REDIRECT_STATUSES,
    drop_body_headers,
    next_method,
    prepare_headers,
    strip_credentials,
)
from daloy_edge.egress._resolver import Resolver
from daloy_edge.egress._url import Target, join_location
from daloy_edge.transport import HTTPTransport, TransportError, TransportResponse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from threading import Thread

    import httpx

    from daloy_edge.egress._httpx import GuardedTransport

__all__ = ["EgressClient", "EgressResponse", "FetchLimits", "GuardedClient", "PolicyOnlyClient"]


@record(frozen=True)
class EgressResponse(TransportResponse):
    """A fully read response, with the URL it finally came from and the hops before it."""

    url: str = ""
    redirects: tuple[str, ...] = ()


@runtime_checkable
class EgressClient(Protocol):
    """What handlers receive from :func:`daloy_edge.egress.egress_client`."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
    ) -> EgressResponse:
        """Send one request to an allowed destination and read the whole response."""
        ...

    async def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> EgressResponse:
        """``request("GET", url)``."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...


class _RedirectingClient:
    """The hop loop shared by both clients; subclasses send one hop."""

    def __init__(self, policy: EgressPolicy, limits: FetchLimits) -> None:
        self.policy = policy
        self.limits = limits
        self._credentials = frozenset(h.lower() for h in limits.credential_headers)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
    ) -> EgressResponse:
        """Send ``method url`` and follow redirects; every hop is checked by the policy.

        Raises :class:`EgressDenied` (destination refused), :class:`EgressTimeout` or
        :class:`EgressFailed`; the response body is at most ``max_bytes``.
        """
        total = self.limits.total_timeout if timeout is None else timeout
        bound = self.limits.max_bytes if max_bytes is None else max_bytes
        scope = _timeout.timeout(total)
        try:
            async with scope:
                return await self._follow(method.upper(), url, headers, body, bound)
        except TimeoutError:
            if scope.expired():
                raise EgressTimeout("total time bound exceeded") from None
            raise

    async def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> EgressResponse:
        """``request("GET", url, headers=headers)``."""
        return await self.request("GET", url, headers=headers)

    async def aclose(self) -> None:
        """Release pooled connections (nothing to release by default)."""

    async def _follow(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        max_bytes: int,
    ) -> EgressResponse:
        target = self.policy.check_url(url)
        try:
            sent = prepare_headers(headers)
        except ValueError as exc:
            raise EgressDenied(str(exc)) from None
        origin, hops = target.origin, list[str]()
        for _ in range(self.limits.max_redirects + 1):
            response = await self._send(target, method, sent, body, max_bytes)
            location = response.headers.get("location")
            if response.status not in REDIRECT_STATUSES or location is None:
                return EgressResponse(
                    response.status, response.headers, response.body, target.url, tuple(hops)
                )
            hops.append(target.url)
            target = self.policy.check_url(join_location(target.url, location))
            method, next_body = next_method(response.status, method, body)
            if next_body is None and body is not None:
                sent = drop_body_headers(sent)
            body = next_body
            if target.origin != origin:
                sent = strip_credentials(sent, self._credentials)
        raise EgressFailed("too many redirects")

    async def _send(
        self,
        target: Target,
        method: str,
        headers: dict[str, str],
        body: bytes | None,
        max_bytes: int,
    ) -> TransportResponse:
        raise NotImplementedError


class GuardedClient(_RedirectingClient):
    """The SSRF-safe client for CPython: the policy, and vetted addresses only.

    Names are resolved by ``resolver`` (the system resolver by default), every answer is
    vetted, and the socket connects to a vetted address while the Host header and TLS SNI
    keep the name; there is one lookup per connection, so DNS rebinding cannot slip between
    check and connect. No cookies are kept between requests and no proxy is ever used.

    >>> client = GuardedClient(EgressPolicy(allow_hosts=("api.example.com",)))
    >>> # response = await client.get("https://api.example.com/v1/items")

    Security: every hop is checked again; a redirect to another origin drops
    ``Authorization``, ``Cookie`` and the other ``credential_headers``.
    """

    def __init__(
        self,
        policy: EgressPolicy | None = None,
        *,
        limits: FetchLimits | None = None,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(policy or EgressPolicy(), limits or FetchLimits())
        self._resolver = resolver
        self._ssl_context = ssl_context
        # One transport per event loop, with the thread that made it.
        self._transports: dict[asyncio.AbstractEventLoop, tuple[GuardedTransport, Thread]] = {}
        self._generation = _copies.generation
        lim = self.limits
        self._timeouts = {
            "connect": lim.connect_timeout,
            "read": lim.read_timeout,
            "write": lim.read_timeout,
            "pool": lim.connect_timeout,
        }

    def _current_transport(self) -> GuardedTransport:
        # Pooled connections belong to the event loop that opened them, so each loop has
        # its own pool (Google Cloud Functions serves each worker thread from a loop of
        # its own: one shared pool, replaced at every switch, reused no connection).
        if self._generation != _copies.generation:
            # Made before this process was copied: the original still uses those pools.
            self._transports = {}
            self._generation = _copies.generation
        loop = asyncio.get_running_loop()
        entry = self._transports.get(loop)
        return entry[0] if entry is not None else self._new_transport(loop)

    def _new_transport(self, loop: asyncio.AbstractEventLoop) -> GuardedTransport:
        from threading import current_thread

        from daloy_edge.egress._httpx import GuardedTransport

        transport = GuardedTransport(
            self.policy, resolver=self._resolver, ssl_context=self._ssl_context
        )
        # A closed loop's pool went with it; so did that of a loop whose thread has ended
        # (a server running each request on a thread of its own would keep one per request).
        live = {
            key: entry
            for key, entry in self._transports.items()
            if entry[1].is_alive() and not key.is_closed()
        }
        live[loop] = (transport, current_thread())
        self._transports = live
        return transport

    async def _send(
        self,
        target: Target,
        method: str,
        headers: dict[str, str],
        body: bytes | None,
        max_bytes: int,
    ) -> TransportResponse:
        try:
            import httpx
        except ImportError as exc:
            if sys.platform == "emscripten":
                # Pyodide (Cloudflare Workers) has no sockets and no DNS API: httpx, which
                # the extra's hint would install, could not help there.
                raise RuntimeError(
                    "GuardedClient resolves names and opens sockets, which Pyodide cannot:"
                    " on Cloudflare Workers build the guard with fetch_guard(allow_hosts=[...],"
                    " policy_only_transport=FetchTransport())"
                ) from None
            from daloy_edge._extras import missing_extra

            raise missing_extra("outbound HTTP through GuardedClient", "http") from exc
        transport = self._current_transport()
        extensions = {"timeout": self._timeouts}
        try:
            request = httpx.Request(
                method, target.url, headers=headers, content=body, extensions=extensions
            )
        except (httpx.InvalidURL, ValueError):
            # An ``xn--`` label that is no valid IDNA name (httpx decodes it): the policy
            # takes any ASCII label, the client cannot address it.
            raise EgressDenied("host name is not a valid IDNA name") from None
        try:
            response = await transport.handle_async_request(request)
            try:
                return await _read(response, method, max_bytes)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise EgressTimeout(type(exc).__name__) from None
        except httpx.HTTPError as exc:
            raise EgressFailed(type(exc).__name__) from None

    async def aclose(self) -> None:
        """Close the running loop's pooled connections (another loop's go with that loop)."""
        loop = asyncio.get_running_loop()
        entry = self._transports.get(loop)
        if entry is not None:
            # Replaced, never changed in place: another thread may be iterating it.
            self._transports = {k: e for k, e in self._transports.items() if k is not loop}
            await entry[0].aclose()

    async def __aenter__(self) -> GuardedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _read(response: httpx.Response, method: str, max_bytes: int) -> TransportResponse:
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if response.status_code in REDIRECT_STATUSES and "location" in headers:
        return TransportResponse(response.status_code, headers, b"")
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes and _has_body(method, response):
        raise EgressFailed("response larger than the size bound")
    if "content-encoding" in headers:
        return TransportResponse(response.status_code, headers, await _inflate(response, max_bytes))
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > max_bytes:
            raise EgressFailed("response larger than the size bound")
        chunks.append(chunk)
    return TransportResponse(response.status_code, headers, b"".join(chunks))


async def _inflate(response: httpx.Response, max_bytes: int) -> bytes:
    # An upstream that ignored ``accept-encoding: identity``: the body is inflated as
    # HttpxTransport and Workers' fetch inflate it, a bounded step at a time, so the bound
    # counts inflated bytes and both runtimes see the same body.
    from daloy_edge.transport import _read_bounded

    try:
        return b"".join(await _read_bounded(response, max_bytes))
    except TransportError as exc:
        raise EgressFailed(str(exc)) from None


def _has_body(method: str, response: httpx.Response) -> bool:
    # The Content-Length of a HEAD answer or a 304 is that of the representation a GET
    # would fetch (RFC 9110 8.6): no body follows, so a large one is no reason to fail.
    return method != "HEAD" and response.status_code not in (204, 304)


class PolicyOnlyClient(_RedirectingClient):
    """The guard for runtimes without a DNS API (Cloudflare Workers): policy checks only.

    URLs, literal addresses, special-use and metadata names, the host allow-list, ports and
    schemes are all checked, on every redirect hop, exactly as by :class:`GuardedClient`.

    Limitation: the addresses a name resolves to are never seen, so a public name that
    points at a private address is not caught here; on Workers, ``fetch`` leaves through
    Cloudflare's network, which does not route to the Worker's own private networks. Use
    ``allow_hosts`` to pin destinations when that matters.

    ``transport`` must not follow redirects itself (``js.fetch`` with
    ``redirect: "manual"``).
    """

    def __init__(
        self,
        transport: HTTPTransport,
        policy: EgressPolicy | None = None,
        *,
        limits: FetchLimits | None = None,
    ) -> None:
        super().__init__(policy or EgressPolicy(), limits or FetchLimits())
        self._transport = transport

    async def _send(
        self,
        target: Target,
        method: str,
        headers: dict[str, str],
        body: bytes | None,
        max_bytes: int,
    ) -> TransportResponse:
        try:
            response = await self._transport.request(
                method,
                target.url,
                headers=headers,
                body=body,
                timeout=self.limits.total_timeout,
                max_bytes=max_bytes,
            )
        except (EgressDenied, EgressFailed):
            raise
        except TransportError as exc:
            raise EgressFailed(str(exc) or type(exc).__name__) from None
        lowered = {k.lower(): v for k, v in response.headers.items()}
        return TransportResponse(response.status, lowered, response.body)
