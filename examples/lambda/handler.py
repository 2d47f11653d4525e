"""A plain Lambda handler, unchanged, behind daloy_edge middleware.

The function below is ordinary proxy-integration code. ``protect`` puts the app
defaults (path sanitation, body and header limits, deadline, request ids, problem+json
errors) and any middleware in front of it; a request the middleware refuses never
reaches it. Deploy with the handler ``handler.lambda_handler`` and set
``EXAMPLE_API_KEYS`` (comma-separated, so keys can rotate; importing without it fails
with a ConfigError rather than serving unprotected).
"""

from __future__ import annotations

import json
import os

from daloy_edge_aws_lambda import current_request, protect

from daloy_edge import KeyRing, Request, Response, Unauthorized
from daloy_edge.types import CallNext


class RequireApiKey:
    """401 unless ``X-API-Key`` matches one of the configured keys (constant time)."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = tuple(keys)

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        # Every line as one field: a second key line never passes, on any event shape.
        sent = request.headers.get_joined("x-api-key") or ""
        matched = False
        for key in self.keys:
            matched |= key.equals(sent)
        if not sent or not matched:
            raise Unauthorized("a valid X-API-Key header is required")
        request.principal = "api-key"
        return await call_next(request)


@protect(RequireApiKey(KeyRing.from_csv(os.environ.get("EXAMPLE_API_KEYS", ""), min_bytes=16)))
def lambda_handler(event: dict[str, object], context: object) -> dict[str, object]:
    """Greets the caller; written without any knowledge of daloy_edge."""
    params = event.get("queryStringParameters") or {}
    name = params.get("name", "world") if isinstance(params, dict) else "world"
    body = {"hello": name, "principal": current_request().principal}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }
