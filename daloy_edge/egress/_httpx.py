"""The guarded httpx transport: resolve, vet every address, connect only to a vetted one.

Importing this module imports httpx; the rest of the package imports it only when a
guarded client sends its first request.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from typing import NoReturn

import httpcore
import httpx

from daloy_edge import _timeout
from daloy_edge.egress._addresses import IPAddress, parse_address
from daloy_edge.egress._errors import EgressDenied
from daloy_edge.egress._policy import EgressPolicy
from daloy_edge.egress._resolver import Resolver, SystemResolver
from daloy_edge.egress._url import Target, parse_url

__all__ = ["GuardedTransport"]

_MAX_ADDRESSES = 32

_EXCEPTIONS: dict[type[Exception], type[httpx.HTTPError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
}


def _reraise(exc: Exception) -> NoReturn:
    for klass in type(exc).__mro__:
        target = _EXCEPTIONS.get(klass)
        if target is not None:
            raise target(str(exc)) from exc
    raise exc


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves each new connection's host itself and connects to a vetted address only.

    httpcore asks for ``connect_tcp(host=<name from the URL>)``; TLS then runs over the
    returned stream with the name as SNI and for certificate checks, and the Host header
    keeps the name, while the socket goes to an address this class resolved and vetted.
    There is exactly one lookup per connection, so a name cannot rebind between the check
    and the connect.
    """

    def __init__(self, policy: EgressPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._vetted(host, port, timeout)
        error: Exception = httpcore.ConnectError("no address to connect to")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                error = exc
        raise error

    async def _vetted(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        literal = parse_address(host.strip("[]"))
        if literal is not None:
            return [self._policy.check_address(literal)]
        answers = await self._resolve(host, port, timeout)
        if not answers:
            raise httpcore.ConnectError("name resolved to no address")
        return [self._policy.check_address(a) for a in answers[:_MAX_ADDRESSES]]

    async def _resolve(self, host: str, port: int, timeout: float | None) -> Sequence[str]:
        try:
            async with _timeout.timeout(timeout):
                return await self._resolver.resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout("name resolution timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"name resolution failed: {exc}") from None

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise EgressDenied("unix sockets are not an egress destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _unread_bytes(stream: object) -> bytes:
    """What the upstream sent past the end of the response just read (httpcore's pool
    stream, its HTTP/1.1 stream, then h11's ``trailing_data``); ``b""`` if not found."""
    inner = getattr(stream, "_stream", None)
    state = getattr(getattr(inner, "_connection", None), "_h11_state", None)
    trailing = getattr(state, "trailing_data", None)
    return trailing[0] if isinstance(trailing, tuple) else b""


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(
        self, stream: AsyncIterable[bytes], network: httpcore.AsyncNetworkStream | None
    ) -> None:
        self._stream = stream
        self._network = network

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except Exception as exc:
            _reraise(exc)
        if self._network is not None and _unread_bytes(self._stream):
            # Bytes past the declared end (a Content-Length shorter than the body) would
            # be read as the next response on this pooled connection, by another request:
            # close it, so the pool sees a dead socket and never hands it out again.
            await self._network.aclose()

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


def _check_host_header(value: str | None, target: Target) -> None:
    # A Host header naming another site would reach it through the vetted address's
    # virtual hosting (a reverse proxy, a CDN), so it must name the URL's own host.
    if value is None:
        return
    try:
        named = parse_url(f"{target.scheme}://{value}/", schemes=frozenset({target.scheme}))
    except EgressDenied:
        raise EgressDenied("invalid Host header") from None
    if (named.host, named.port) != (target.host, target.port):
        raise EgressDenied("Host header does not match the URL")


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that only reaches destinations ``policy`` allows.

    Every request's URL is checked (so redirects followed by an ``httpx.AsyncClient`` are
    checked hop by hop), the ``Host`` header must match the URL, and every new connection
    resolves the name through ``resolver`` and connects to a vetted address. Proxies are
    never used.

    >>> import httpx
    >>> client = httpx.AsyncClient(transport=GuardedTransport(EgressPolicy()), trust_env=False)

    Security: pass ``trust_env=False`` when building your own ``httpx.AsyncClient`` around it,
    or proxy variables in the environment would route requests past this transport.
    """

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
    ) -> None:
        self.policy = policy
        context = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=max_connections,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_PinnedBackend(policy, resolver or SystemResolver()),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check the URL, then send the request over a pinned connection."""
        target = self.policy.check_url(str(request.url))
        _check_host_header(request.headers.get("host"), target)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core_request)
        except Exception as exc:
            _reraise(exc)
        if not isinstance(response.stream, AsyncIterable):
            raise TypeError("httpcore returned a synchronous stream")
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream, response.extensions.get("network_stream")),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._pool.aclose()
