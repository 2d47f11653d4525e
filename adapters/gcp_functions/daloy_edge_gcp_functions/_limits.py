"""How large a response a Cloud Run function (2nd gen) delivers: past it, the platform
answers with its own 500 instead.

Cloud Run sends at most 32 MiB of a response that is not streamed, and the Functions
Framework never streams: Werkzeug states the length of the whole body.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge import Request, Response

__all__ = ["MAX_RESPONSE_BODY", "ResponseTooLarge", "delivered"]

MAX_RESPONSE_BODY = 32 * 1024 * 1024
"""Bytes of body a Cloud Run function sends in a response that is not streamed."""


class ResponseTooLarge(Exception):
    """The response is larger than Cloud Run delivers from a function."""


class _Delivered:
    """The check the app runs on a final response: :class:`ResponseTooLarge` past
    :data:`MAX_RESPONSE_BODY` (the app calls it only for a body past ``unmeasured``)."""

    __slots__ = ()

    unmeasured = MAX_RESPONSE_BODY

    def __call__(self, request: Request, response: Response, /) -> Exception | None:
        size = len(response.body)
        if size <= MAX_RESPONSE_BODY:
            return None
        return ResponseTooLarge(
            f"the body is {size} bytes; Cloud Run delivers {MAX_RESPONSE_BODY} from a function"
        )


delivered = _Delivered()
"""The one check every request of the adapter carries."""
