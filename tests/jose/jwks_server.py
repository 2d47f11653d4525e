"""A real JWKS endpoint on 127.0.0.1 (asyncio streams) whose keys and failures tests control."""

from __future__ import annotations

import asyncio
import json


class JWKSServer:
    """Serves ``document`` as JSON; ``status``, ``headers``, ``delay`` and ``body`` override."""

    def __init__(self, document: dict[str, object]) -> None:
        self.document = document
        self.status = 200
        self.headers: dict[str, str] = {"cache-control": "public, max-age=300"}
        self.delay = 0.0
        self.body: bytes | None = None
        self.hits = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> JWKSServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/.well-known/jwks.json"
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.hits += 1
            if self.delay:
                await asyncio.sleep(self.delay)
            body = self.body if self.body is not None else json.dumps(self.document).encode()
            head = [f"HTTP/1.1 {self.status} X", f"content-length: {len(body)}"]
            head += [
                f"{k}: {v}" for k, v in {"content-type": "application/json", **self.headers}.items()
            ]
            head.append("connection: close")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
