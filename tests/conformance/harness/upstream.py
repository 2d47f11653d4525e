"""A small HTTP server on 127.0.0.1 for ``/fetch`` to reach (the only place it may go)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

PAYLOAD = b"conformance upstream payload\n" * 37
"""What ``/payload`` answers (1073 bytes)."""


class Upstream:
    """Serves ``/payload`` (200), ``/teapot`` (418, empty) and ``/redirect?to=<url>`` (302)
    from a daemon thread, and counts the requests it answered."""

    def __init__(self) -> None:
        self.hits = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                upstream.hits += 1
                path, _, query = self.path.partition("?")
                if path == "/payload":
                    self._reply(200, PAYLOAD)
                elif path == "/teapot":
                    self._reply(418, b"")
                elif path == "/redirect" and query.startswith("to="):
                    self._reply(302, b"", unquote(query.removeprefix("to=")))
                else:
                    self._reply(404, b"not here")

            def _reply(self, status: int, body: bytes, location: str | None = None) -> None:
                self.send_response(status)
                if location is not None:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

        return Handler
