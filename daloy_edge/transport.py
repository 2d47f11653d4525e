"""Outbound HTTP as a one-method protocol, so each runtime supplies its own client.

CPython uses httpx (imported only when a transport is built); Workers use ``js.fetch``
(in the Cloudflare adapter). The JWKS client, the Upstash store and the egress guard all
speak to this protocol.
"""

from __future__ import annotations

from daloy_edge import _copies
from daloy_edge._record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from asyncio import AbstractEventLoop
    from collections.abc import Mapping
    from threading import Thread
    from typing import Protocol

    import httpx
else:
    # A plain base at run time: the protocol matters to type checkers, and importing
    # ``typing`` for it would cost every cold start.
    Protocol = object

__all__ = [
    "HTTPTransport",
    "HttpxTransport",
    "TransportError",
    "TransportResponse",
    "default_transport",
    "set_default_transport",
]


class TransportError(Exception):
    """The request did not complete (connection, timeout or size bound)."""


@record(frozen=True)
class TransportResponse:
    """A fully read response."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class HTTPTransport(Protocol):
    """Send one request and read the whole response, within ``timeout`` and ``max_bytes``."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 5.0,
        max_bytes: int = 1024 * 1024,
    ) -> TransportResponse: ...


class HttpxTransport:
    """:class:`HTTPTransport` over ``httpx.AsyncClient`` (no redirects followed): one
    client per event loop, since pooled connections belong to the loop that opened them
    (Google Cloud Functions serves each worker thread from a loop of its own)."""

    def __init__(self, *, verify: bool = True) -> None:
        self._verify = verify
        self._clients: dict[AbstractEventLoop, httpx.AsyncClient] = {}
        # The thread each loop's client was made on: a loop whose thread has ended
        # serves no one again.
        self._threads: dict[AbstractEventLoop, Thread] = {}
        self._generation = _copies.generation

    def _get_client(self) -> httpx.AsyncClient:
        from asyncio import get_running_loop

        if self._generation != _copies.generation:
            # Clients made before this process was copied pool connections the original
            # still uses: a request written on one by both gets whichever answer comes first.
            self._clients, self._threads = {}, {}
            self._generation = _copies.generation
        loop = get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            from threading import current_thread

            import httpx

            # No proxies from the environment and no cookie jar: calls to an identity
            # provider or a store must not be redirected or carry state between requests.
            client = httpx.AsyncClient(verify=self._verify, follow_redirects=False, trust_env=False)
            # A closed loop's client is dropped: its connections went with the loop. So is
            # the client of a loop whose thread has ended: a server that runs each request
            # on a thread of its own (Flask's development server) otherwise left a loop, a
            # client and their connections open for every request, five descriptors each.
            threads = {
                key: thread
                for key, thread in self._threads.items()
                if thread.is_alive() and not key.is_closed()
            }
            threads[loop] = current_thread()
            clients = {key: c for key, c in self._clients.items() if key in threads}
            clients[loop] = client
            self._clients, self._threads = clients, threads
        return client

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 5.0,
        max_bytes: int = 1024 * 1024,
    ) -> TransportResponse:
        """Send the request; raises :class:`TransportError` on failure, timeout or oversize.

        ``timeout`` bounds the whole exchange, body included, as ``fetch`` on Workers
        does (httpx's own timeout bounds each read, so a body sent a byte at a time never
        ran out of it).
        """
        from asyncio import timeout as deadline

        try:
            import httpx
        except ImportError as exc:
            from daloy_edge._extras import missing_extra

            raise missing_extra("outbound HTTP through HttpxTransport", "http") from exc
        client = self._get_client()
        scope = deadline(timeout)
        sent = {"accept-encoding": "gzip, deflate"}  # no coding it cannot inflate bounded
        sent.update(headers or {})
        try:
            async with (
                scope,
                client.stream(method, url, headers=sent, content=body, timeout=timeout) as response,
            ):
                chunks = await _read_bounded(response, max_bytes)
                client.cookies.clear()
                return TransportResponse(
                    response.status_code, dict(response.headers), b"".join(chunks)
                )
        except TimeoutError:
            if scope.expired():
                raise TransportError("timeout") from None
            raise
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as exc:
            # httpx raises the last two for a URL it cannot parse, such as an ``xn--``
            # label that is no IDNA name (idna's errors are UnicodeErrors).
            raise TransportError(type(exc).__name__) from None

    async def aclose(self) -> None:
        """Close the running loop's client (another loop's closes with that loop)."""
        from asyncio import get_running_loop

        client = self._clients.pop(get_running_loop(), None)
        if client is not None:
            await client.aclose()


async def _read_bounded(response: httpx.Response, max_bytes: int) -> list[bytes]:
    """The body, decoded, never inflated past ``max_bytes`` (httpx decodes a whole network
    chunk before a caller can count it: 1.7 KB of brotli made 1 GiB). gzip and deflate
    are inflated a bounded step at a time; any other coding is refused."""
    import zlib  # httpx has loaded it

    coding = response.headers.get("content-encoding", "").strip().lower()
    inflater = None
    if coding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(wbits=47)  # a gzip or zlib header, told apart
    elif coding not in ("", "identity"):
        raise TransportError(f"unsupported content-encoding {coding[:32]!r}")
    chunks: list[bytes] = []
    total = 0
    try:
        async for raw in response.aiter_raw():
            data = raw if inflater is None else inflater.decompress(raw, max_bytes - total + 1)
            total += len(data)
            if total > max_bytes or (inflater is not None and inflater.unconsumed_tail):
                raise TransportError("response too large")
            chunks.append(data)
        if inflater is not None:
            rest = inflater.flush()
            total += len(rest)
            if total > max_bytes:
                raise TransportError("response too large")
            chunks.append(rest)
    except zlib.error:
        raise TransportError(f"undecodable {coding} body") from None
    return chunks


_installed: HTTPTransport | None = None


def default_transport() -> HTTPTransport:
    """The runtime's transport: the one an adapter installed, else a new :class:`HttpxTransport`.

    Components built without an explicit transport (JWKS client, Upstash store) use
    this, so the same app reaches the network through ``fetch`` on Workers and httpx
    on CPython.
    """
    return _installed if _installed is not None else HttpxTransport()


def set_default_transport(transport: HTTPTransport | None) -> None:
    """Install the runtime's transport (``None`` restores httpx); adapters call this."""
    global _installed
    _installed = transport
