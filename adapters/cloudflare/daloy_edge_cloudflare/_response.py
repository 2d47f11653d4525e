"""A daloy_edge :class:`Response` as a JS ``Response``."""

from __future__ import annotations

from typing import Any

from daloy_edge import Request, Response
from daloy_edge._headers import check_response_fields
from daloy_edge_cloudflare._js import to_uint8array

__all__ = ["ResponseCheck", "to_js_response"]

_NULL_BODY_STATUSES = frozenset({101, 103, 204, 205, 304})
_BUILT = "cloudflare.js_response"
# Framing fields the runtime states itself: Transfer-Encoding always, Content-Length
# whenever there is a body (a HEAD answer keeps the length the app stated for it).
_FRAMING = frozenset({"transfer-encoding"})
_BODY_FRAMING = frozenset({"transfer-encoding", "content-length"})


async def to_js_response(response: Response) -> Any:
    """Build the JS ``Response``; headers go over as name/value pairs, so every
    ``Set-Cookie`` stays a field of its own (all but a handler's framing: its
    Transfer-Encoding, and its Content-Length over a body).

    A streamed body is read to the end first: the platform's own compression and
    ``Content-Length`` then apply to the whole body. A body the app already encoded
    (``Content-Encoding`` set, e.g. by the compression middleware) goes out with
    ``encodeBody: "manual"``; by default the runtime would encode it a second time.
    """
    return _js_response(response, await response.read())


def _js_response(response: Response, body: bytes) -> Any:
    from js import Response as JSResponse
    from pyodide.ffi import to_js

    # A handler's framing is left out, as every other adapter leaves it out: the runtime
    # frames the body it sends, and "chunked" over a body that is not, or "3" over five
    # bytes, frames it two ways for whoever reads it.
    framing = _BODY_FRAMING if body else _FRAMING
    headers = to_js(
        [[name, value] for name, value in response.headers._items if name not in framing]
    )
    payload = None if response.status in _NULL_BODY_STATUSES or not body else to_uint8array(body)
    encoding = (response.headers.get("content-encoding") or "").strip().lower()
    if encoding and encoding != "identity":
        return JSResponse.new(payload, status=response.status, headers=headers, encodeBody="manual")
    return JSResponse.new(payload, status=response.status, headers=headers)


class ResponseCheck:
    """The app's last step on each response: its JS ``Response`` is built there, inside
    the app's error boundary, so one the Fetch API refuses (a field added after the
    Response was made, with a value past U+00FF or a name that is no token) is answered
    as a 500 problem and logged as one instead of throwing into the runtime (its error
    page: no request id, no problem, a log line saying 200).

    :meth:`built` hands the JS ``Response`` back to the fetch handler.
    """

    __slots__ = ()

    unmeasured = -1
    """Every response is built here, whatever its size."""

    def __call__(self, request: Request, response: Response, /) -> Exception | None:
        if response.stream is not None:  # read whole by a buffering app before this
            return None
        try:
            request.state[_BUILT] = (response, _js_response(response, response.body))
        except Exception as exc:
            return _refusal(response, exc)
        return None

    @staticmethod
    async def built(request: Request, response: Response) -> Any:
        """The JS ``Response`` for ``response``: the one built by the check, or a new one."""
        built: Any = request.state.pop(_BUILT, None)
        if built is not None and built[0] is response:
            return built[1]
        return await to_js_response(response)


def _refusal(response: Response, exc: Exception) -> Exception:
    """The error logged for a response the Fetch API refused; the platform's message
    quotes the refused value, which may be a secret, so it is left out."""
    try:
        check_response_fields(response.headers.items())
    except ValueError as named:  # names the field, never its value
        return named
    kind = str(getattr(exc, "name", "") or type(exc).__name__)
    return RuntimeError(f"the Fetch API refused the response ({kind})")
