"""How large a result the platform delivers: past it, the service answers on its own.

A synchronous invocation's result may be 6 MB as the runtime posts it (JSON, binary
bodies in base64); Lambda refuses a larger one ("Exceeded maximum allowed payload size
(6291556 bytes)") and API Gateway or the Function URL answers its own 502. An ALB takes
1 MB of result JSON from a Lambda target, and answers 502 past that.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from daloy_edge import Request, Response

__all__ = ["ALB_MAX_RESULT", "LAMBDA_MAX_RESULT", "ResultCheck", "ResultTooLarge", "result_size"]

LAMBDA_MAX_RESULT = 6_291_556
"""Bytes of result the Lambda runtime API accepts from a synchronous invocation."""
ALB_MAX_RESULT = 1_048_576
"""Bytes of result JSON an Application Load Balancer accepts from a Lambda target."""

# A body byte takes at most six bytes of the result: a control character is written
# "\u0001"; base64 takes four for three. Bodies this far under the limit (nearly all)
# are not measured; the allowance covers the headers and the result's other fields.
_MOST_PER_BYTE = 6
_ALLOWANCE = 65_536


class ResultTooLarge(Exception):
    """The response is larger than the service can deliver from a Lambda function."""


def _escapes_non_ascii() -> bool:
    # The runtime client writes non-ASCII text as it is on the python3.12 runtime and
    # later, and as \uXXXX escapes (up to three times as long) before them.
    prefix = "AWS_Lambda_python3."
    runtime = os.environ.get("AWS_EXECUTION_ENV") or ""
    minor = runtime.removeprefix(prefix)
    return not (runtime.startswith(prefix) and minor.isdigit() and int(minor) >= 12)


def result_size(result: dict[str, Any]) -> int:
    """Bytes of ``result`` as the runtime client posts it."""
    import json

    escaped = _escapes_non_ascii()
    text = json.dumps(result, ensure_ascii=escaped)
    return len(text) if escaped else len(text.encode("utf-8", "surrogatepass"))


class ResultCheck:
    """The check the app runs on a final response whose body is past ``unmeasured``
    bytes: :class:`ResultTooLarge` when its result would be more than ``most`` bytes."""

    __slots__ = ("from_response", "most", "unmeasured")

    def __init__(
        self, from_response: Callable[[Response, bytes], dict[str, Any]], most: int
    ) -> None:
        self.from_response = from_response
        self.most = most
        self.unmeasured = (most - _ALLOWANCE) // _MOST_PER_BYTE

    def __call__(self, request: Request, response: Response, /) -> Exception | None:
        if len(response.body) <= self.unmeasured:
            return None
        size = result_size(self.from_response(response, response.body))
        if size <= self.most:
            return None
        return ResultTooLarge(f"the result is {size} bytes; the service delivers {self.most}")
