"""A JS ``Request`` (or the ``workers`` SDK's wrapper) as a daloy_edge :class:`Request`."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from daloy_edge import BadRequest, Headers, Request
from daloy_edge_cloudflare._js import is_null, settled, to_bytes, unwrap

__all__ = ["CLIENT_HEADER", "client_address", "to_request"]

CLIENT_HEADER = "cf-connecting-ip"
"""The one client-address header Cloudflare sets itself (and overwrites if a client sent it)."""


def client_address(headers: Headers) -> str | None:
    """The visitor's IP from ``cf-connecting-ip``; ``None`` when absent or not an IP.

    Security: ``X-Forwarded-For`` and ``Forwarded`` are never read here; believing them is
    the app's trusted-proxy decision, made the same way on every runtime.
    """
    value = headers.get(CLIENT_HEADER)
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _body_stream(stream: Any) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        # One chunk is pulled per step, so a reader that stops at the body limit leaves
        # the rest unread; the stream is cancelled when the reader gives up early.
        reader = stream.getReader()
        finished = False
        try:
            while True:
                try:
                    result = await settled(reader.read)
                except Exception as exc:
                    # A dropped upload rejects the read: a typed 400, not a 500. The stream
                    # is errored, and cancelling it would only reject again.
                    finished = True
                    raise BadRequest(
                        "the client disconnected before the body was complete"
                    ) from exc
                if result.done:
                    finished = True
                    return
                chunk = to_bytes(result.value)
                if chunk:
                    yield chunk
        finally:
            if not finished:
                await settled(reader.cancel)

    return chunks()


def to_request(js_request: object, env: Mapping[str, str] | None = None) -> Request:
    """Translate an incoming JS ``Request`` into a :class:`Request` (the body stays unread).

    The path and query come from ``request.url`` exactly as the platform parsed it; the
    client address comes from ``cf-connecting-ip`` only; the body is read lazily from
    the JS stream and never past the app's limit.
    """
    raw = unwrap(js_request)
    url = urlsplit(str(raw.url))
    headers = Headers([(str(k), str(v)) for k, v in raw.headers.entries()])
    if "host" not in headers and url.netloc:
        headers.add_lowered("host", url.netloc)
    stream = raw.body
    return Request(
        str(raw.method),
        url.path or "/",
        query_string=url.query,
        headers=headers,
        scheme="https" if url.scheme == "https" else "http",
        client=client_address(headers),
        body=b"" if is_null(stream) else _body_stream(stream),
        env=env,
        runtime="cloudflare",
    )
