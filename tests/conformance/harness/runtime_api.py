"""A small local Lambda Runtime API, so the real ``awslambdaric`` loop can run here.

The Runtime Interface Emulator cannot be installed on these machines. This serves the
three calls the runtime client makes (``invocation/next``, ``…/response``,
``…/error``, plus ``init/error``) on 127.0.0.1 and hands events over one at a time,
refusing a result over Lambda's payload limit as Lambda does.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
MAX_RESULT = 6_291_556
"""Bytes of result Lambda's Runtime API accepts; it answers a larger one 413 and the
invocation fails (API Gateway then sends its own 502)."""
TOO_LARGE = b'{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}'  # noqa: E501


class InvocationFailed(RuntimeError):
    """The function reported an error instead of a result."""


class RuntimeAPI:
    """Queue events for the runtime client and collect what it posts back."""

    def __init__(self) -> None:
        self.pending: queue.Queue[tuple[str, bytes, int]] = queue.Queue()
        self.results: dict[str, queue.Queue[tuple[str, bytes]]] = {}
        self.init_errors: list[bytes] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> RuntimeAPI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def invoke(self, event: dict[str, Any], *, budget_ms: int = 30_000) -> dict[str, Any]:
        """Run one invocation and return the function's result."""
        request_id = str(uuid.uuid4())
        answer: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.results[request_id] = answer
        deadline = int(time.time() * 1000) + budget_ms
        self.pending.put((request_id, json.dumps(event).encode(), deadline))
        try:
            kind, payload = answer.get(timeout=budget_ms / 1000 + 10)
        finally:
            self.results.pop(request_id, None)
        if kind == "error":
            raise InvocationFailed(payload.decode("utf-8", "replace"))
        return json.loads(payload)  # type: ignore[no-any-return]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _reply(
                self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._reply(404)
                    return
                request_id, event, deadline = api.pending.get()
                self._reply(
                    200,
                    event,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": (
                            "arn:aws:lambda:us-east-1:123456789012:function:conformance"
                        ),
                        "Lambda-Runtime-Trace-Id": "Root=1-5e723db2-8d6bf7ad6c0c9a1e1d52a7a4",
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                parts = self.path.removeprefix(PREFIX).strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_errors.append(payload)
                elif len(parts) == 3 and parts[0] == "invocation":
                    waiting = api.results.get(parts[1])
                    if parts[2] == "response" and len(payload) > MAX_RESULT:
                        if waiting is not None:
                            waiting.put(("error", TOO_LARGE))
                        self._reply(413, TOO_LARGE, {"Content-Type": "application/json"})
                        return
                    if waiting is not None:
                        waiting.put((parts[2], payload))
                else:
                    self._reply(404)
                    return
                self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})

        return Handler
