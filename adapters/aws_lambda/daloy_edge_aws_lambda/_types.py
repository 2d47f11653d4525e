"""The Lambda handler's types; imported only for type checking or when asked for by name
(``typing`` stays off the cold path)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, TypeAlias

__all__ = ["LambdaContext", "LambdaEvent", "LambdaHandler", "LambdaResult"]


class LambdaContext(Protocol):
    """The part of the Lambda context object the adapter reads."""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda stops the invocation."""
        ...


LambdaEvent: TypeAlias = Mapping[str, object]
"""An invocation event as decoded from JSON."""

LambdaResult: TypeAlias = dict[str, object]
"""What the handler returns to the runtime (serialised to JSON)."""

LambdaHandler: TypeAlias = Callable[[LambdaEvent, LambdaContext | None], LambdaResult]
"""``def handler(event, context) -> dict`` as the Lambda runtime calls it."""
