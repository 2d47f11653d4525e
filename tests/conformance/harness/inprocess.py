"""Transports that call the app inside the test process: ASGI, Lambda events, Mangum."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from daloy_edge import App, Headers
from tests.conformance.harness import gateways
from tests.conformance.harness.client import Reply, Transport


class ASGITransport(Transport):
    """The ASGI adapter driven directly with HTTP scopes, as a server would."""

    name = "asgi"

    def __init__(self, app: App) -> None:
        from daloy_edge_asgi import ASGIApp

        self.asgi = ASGIApp(app)
        self.loop = asyncio.new_event_loop()

    def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        return self.loop.run_until_complete(self.asend(method, target, headers, body))

    def with_client(self, address: str) -> Transport:
        return self._view(address)

    async def asend(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> Reply:
        """:meth:`send` as a coroutine on :attr:`loop`, so requests can overlap."""
        path, _, query = target.partition("?")
        if body:
            headers = [*headers, ("content-length", str(len(body)))]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "https",
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            "client": (self.client or "127.0.0.1", 50000),
            "server": ("conformance.example", 443),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.asgi(scope, receive, send)
        start = sent[0]
        reply_headers = Headers(
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        )
        payload = b"".join(m.get("body", b"") for m in sent[1:])
        return Reply(start["status"], reply_headers, payload)

    def close(self) -> None:
        self.loop.close()


class Context:
    """The slice of the Lambda context object the adapters read.

    The real object only exists inside the Lambda runtime; the awslambdaric transport
    exercises that one. ``remaining_ms`` plays the function's timeout.
    """

    function_name = "conformance"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class LambdaEventTransport(Transport):
    """A Lambda handler invoked with events built from the recorded ones for one shape."""

    def __init__(
        self,
        name: str,
        shape: str,
        lambda_handler: Callable[..., Any],
        *,
        forwarded_client: bool = False,
    ) -> None:
        self.name = name
        self.shape = shape
        self.handler = lambda_handler
        self.forwarded_client = forwarded_client
        """Whether the handler takes the client from ALB's X-Forwarded-For (Mangum does)."""

    def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        client = self.client or gateways.CLIENT_IP
        event = gateways.build_event(self.shape, method, target, headers, body, client)
        result = self.handler(event, Context())
        return gateways.read_result(self.shape, result)

    def with_client(self, address: str) -> Transport | None:
        if self.shape not in gateways.SHAPES_WITH_CLIENT_ADDRESS and not self.forwarded_client:
            return None
        return self._view(address)


def lambda_transport(app: App, shape: str) -> LambdaEventTransport:
    from daloy_edge_aws_lambda import handler

    return LambdaEventTransport(f"lambda-{shape}", shape, handler(app))


def mangum_transport(app: App, shape: str) -> LambdaEventTransport:
    from daloy_edge_asgi import ASGIApp
    from mangum import Mangum

    # The app runs its own start-up hooks on the first request; Mangum's per-invocation
    # lifespan would also run the shut-down hooks after every single request.
    return LambdaEventTransport(
        f"mangum-{shape}", shape, Mangum(ASGIApp(app), lifespan="off"), forwarded_client=True
    )
