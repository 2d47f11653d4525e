"""An ASGI app served by a real uvicorn in a thread, on a socket bound to 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


def loopback_socket() -> socket.socket:
    """A socket bound to 127.0.0.1 on a kernel-chosen port (known before the app is built)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(app: object, sock: socket.socket | None = None, **config: object) -> Iterator[int]:
    """Serve the ASGI ``app`` under uvicorn (``config``: more ``uvicorn.Config`` options)
    in a thread; yields its port, and stops the server and closes the socket after."""
    sock = sock or loopback_socket()
    port = sock.getsockname()[1]
    options: dict[str, object] = {"log_level": "warning", "lifespan": "off", **config}
    server = uvicorn.Server(uvicorn.Config(app, **options))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
