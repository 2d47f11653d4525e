"""A daloy_edge :class:`Response` as a JS ``Response``."""

from __future__ import annotations

from typing import Any

from daloy_edge import Response
from daloy_edge_cloudflare._js import to_uint8array

__all__ = ["to_js_response"]

_NULL_BODY_STATUSES = frozenset({101, 103, 204, 205, 304})


async def to_js_response(response: Response) -> Any:
    """Build the JS ``Response``; headers go over as name/value pairs, so every
    ``Set-Cookie`` stays a field of its own.

    A streamed body is read to the end first: the platform's own compression and
    ``Content-Length`` then apply to the whole body. A body the app already encoded
    (``Content-Encoding`` set, e.g. by the compression middleware) goes out with
    ``encodeBody: "manual"``; by default the runtime would encode it a second time.
    """
    from js import Response as JSResponse
    from pyodide.ffi import to_js

    body = await response.read()
    headers = to_js([[name, value] for name, value in response.headers.items()])
    payload = None if response.status in _NULL_BODY_STATUSES or not body else to_uint8array(body)
    encoding = (response.headers.get("content-encoding") or "").strip().lower()
    if encoding and encoding != "identity":
        return JSResponse.new(payload, status=response.status, headers=headers, encodeBody="manual")
    return JSResponse.new(payload, status=response.status, headers=headers)
