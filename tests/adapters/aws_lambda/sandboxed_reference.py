"""The reference app as a Lambda handler, driven with events inside Lambda's limits.

Run by ``test_lambda_sandbox.py`` in a private mount namespace where every file system the
app and its interpreter are read from is read-only, ``/tmp`` is a tiny tmpfs, no ``HOME``
is set and ``RLIMIT_NOFILE`` is 1024; never run on its own. It prints one JSON document on
stderr: the status of each step, whether the app's folder could be written, and the files
found in ``/tmp`` at the end.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from tests.conformance.harness.gateways import build_event
from tests.conformance.harness.inprocess import Context
from tests.conformance.harness.targets import CONFORMANCE_ENV

RESULTS_MARK = "sandbox results: "


class _Upstream(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "8")
        self.end_headers()
        self.wfile.write(b"upstream")

    def log_message(self, *args: object) -> None:
        return


def _serve_upstream() -> tuple[int, int]:
    """An upstream on 127.0.0.1 in a process of its own (its descriptors are not ours)."""
    server = HTTPServer(("127.0.0.1", 0), _Upstream)
    pid = os.fork()
    if pid == 0:
        server.serve_forever()
        os._exit(0)
    server.socket.close()
    return pid, server.server_address[1]


def _events(port: int) -> dict[str, dict[str, object]]:
    host = ("host", "example.test")
    login = [host, ("content-type", "application/json"), ("origin", "https://example.test")]
    return {
        "health": build_event("http-v2", "GET", "/health", [host], b""),
        "big": build_event("http-v2", "GET", "/big", [host, ("accept-encoding", "gzip")], b""),
        "login": build_event("http-v2", "POST", "/session/login", login, b'{"user":"alice"}'),
        "static": build_event("http-v2", "GET", "/static/hello.txt", [host], b""),
        "boom": build_event("http-v2", "GET", "/boom", [host], b""),
        "fetch": build_event("http-v2", "GET", f"/fetch?url=http://127.0.0.1:{port}/", [host], b""),
    }


def _files_in_tmp() -> list[str]:
    return sorted(os.path.join(top, name) for top, _, names in os.walk("/tmp") for name in names)


def main() -> None:
    upstream, port = _serve_upstream()
    steps: list[tuple[str, int]] = []
    # From the fork on: an app that fails to import must not leave the upstream serving,
    # holding the pipes the test reads to their end.
    try:
        os.environ.update(CONFORMANCE_ENV, DALOY_REQUEST_TIMEOUT_MS="10000")
        import examples.secure_app as reference

        handler = reference.lambda_handler
        events = _events(port)

        def invoke(label: str, name: str) -> None:
            result = handler(json.loads(json.dumps(events[name])), Context())
            steps.append((f"{label} {name}", result["statusCode"]))

        for name in ("health", "big", "login", "static", "boom", "fetch"):
            invoke("free", name)
        held = []
        try:
            while True:
                held.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            pass
        invoke("no descriptors", "fetch")
        invoke("no descriptors", "health")
        for fd in held:
            os.close(fd)
        invoke("freed", "fetch")
        invoke("freed", "health")
    finally:
        os.kill(upstream, 9)
        os.waitpid(upstream, 0)
    report = {
        "home": os.environ.get("HOME"),
        "code_writable": os.access(os.path.dirname(reference.__file__), os.W_OK),
        "steps": steps,
        "tmp": _files_in_tmp(),
    }
    sys.stderr.write(RESULTS_MARK + json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
