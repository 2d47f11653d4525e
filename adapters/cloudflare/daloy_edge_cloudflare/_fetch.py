"""An :class:`~daloy_edge.transport.HTTPTransport` over the Workers ``fetch``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daloy_edge import _timeout
from daloy_edge.transport import TransportError, TransportResponse
from daloy_edge_cloudflare._js import is_null, js_object, settled, to_bytes, to_uint8array

__all__ = ["FetchTransport"]

# The longest delay a JavaScript timer takes, 2**31 - 1 ms (about 24.8 days): a longer
# one fires at once, and infinity cannot be converted at all.
_LONGEST_TIMER_S = 2_147_483


class FetchTransport:
    """Outbound HTTP with ``fetch``: the JWKS client, the Upstash store and egress use it.

    Redirects are returned, never followed (a redirect must not carry a request past
    the egress policy). ``timeout`` covers the whole exchange, body included, and aborts
    the request; a body past ``max_bytes`` is refused from ``Content-Length`` or cut off
    while streaming. Any failure raises :class:`~daloy_edge.transport.TransportError`.

    ``fetcher`` is another ``fetch`` to call, such as a service binding's.

    >>> # transport = FetchTransport()
    >>> # response = await transport.request("GET", "https://idp.example/jwks.json")
    """

    __slots__ = ("_fetcher",)

    def __init__(self, *, fetcher: object | None = None) -> None:
        self._fetcher = fetcher

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
        """Send the request; raises :class:`TransportError` on failure, timeout or oversize."""
        from pyodide.ffi import JsException

        timeout = min(timeout, _LONGEST_TIMER_S)
        try:
            async with _timeout.timeout(timeout):
                return await self._exchange(
                    method, url, headers=headers, body=body, timeout=timeout, max_bytes=max_bytes
                )
        except TimeoutError:
            raise TransportError("timeout") from None
        except JsException as exc:
            raise TransportError(_js_error_name(exc)) from None

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        timeout: float,
        max_bytes: int,
    ) -> TransportResponse:
        from js import AbortSignal, Headers, fetch

        outgoing = Headers.new()
        for name, value in (headers or {}).items():
            outgoing.append(name, value)
        init: dict[str, object] = {
            "method": method.upper(),
            "headers": outgoing,
            "redirect": "manual",
            "signal": AbortSignal.timeout(max(1, int(timeout * 1000))),
        }
        if body is not None:
            init["body"] = to_uint8array(body)
        send: Any = self._fetcher if self._fetcher is not None else fetch
        response = await settled(send, url, js_object(init))
        received: dict[str, str] = {}
        for key, item in response.headers.entries():
            # Headers joins repeated fields but yields each Set-Cookie line apart: joined
            # here as HttpxTransport joins them, so none replaces another.
            name, value = str(key), str(item)
            received[name] = f"{received[name]}, {value}" if name in received else value
        data = await _read_bounded(response, received.get("content-length"), max_bytes)
        return TransportResponse(int(response.status), received, data)


async def _read_bounded(response: Any, declared: str | None, max_bytes: int) -> bytes:
    stream = response.body
    if is_null(stream):
        return b""
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        await settled(stream.cancel)
        raise TransportError("response too large")
    reader = stream.getReader()
    chunks: list[bytes] = []
    total = 0
    while True:
        result = await settled(reader.read)
        if result.done:
            return b"".join(chunks)
        chunk = to_bytes(result.value)
        total += len(chunk)
        if total > max_bytes:
            await settled(reader.cancel)
            raise TransportError("response too large")
        chunks.append(chunk)


def _js_error_name(exc: Exception) -> str:
    name = str(getattr(exc, "name", "") or type(exc).__name__)
    return "timeout" if name in ("TimeoutError", "AbortError") else name
