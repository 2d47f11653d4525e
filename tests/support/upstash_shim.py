"""An Upstash-REST-compatible HTTP front for a real redis-server, for tests.

No registry ships a server for the Upstash REST protocol, so this shim speaks it in
front of a real Redis: ``POST /`` with a JSON command array, ``POST /pipeline`` and
``POST /multi-exec`` with an array of arrays, ``Authorization: Bearer <token>``, and
``Upstash-Encoding: base64`` (strings base64-encoded except the literal ``OK``). Replies
are ``{"result": ...}`` or ``{"error": "..."}`` with Redis' error text (``ERR ...``,
``NOSCRIPT ...``). It counts requests, so tests can assert round trips:
``GET /__shim/stats`` and ``POST /__shim/reset`` (both unauthenticated; test-only).

Replies the real service gives and a local Redis never would (its daily request limit, a
proxy's 502 page) are set with ``POST /__shim/fault`` and a JSON ``{"status", "body",
"content_type", "times"}``: the next ``times`` authorized requests get that reply, their
commands unrun. Like Upstash, a command's reply carries an ``Upstash-Sync-Token`` header
(here the count of commands run), which the official clients send back for read-your-writes.

Run it as a process (the Workers tests reuse it this way)::

    python -m tests.support.upstash_shim --redis-url redis://127.0.0.1:6379 --token t

It binds 127.0.0.1 (``--port 0``, the default, picks a free port) and prints one line,
``UPSTASH_SHIM_URL=http://127.0.0.1:<port>``, once it is serving.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import json
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import uvicorn
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

MAX_BODY = 1024 * 1024


class UpstashShim:
    """The ASGI app: one Redis command (or a batch) per request, counted."""

    def __init__(self, redis_url: str, token: str) -> None:
        # A fixed set of backend connections, as Upstash has; callers past it wait.
        pool = aioredis.BlockingConnectionPool.from_url(
            redis_url, protocol=2, decode_responses=False, max_connections=64, timeout=None
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        # Raw replies, as Upstash gives them (redis-py would turn SET's OK into True).
        self.redis.response_callbacks.clear()
        self.token = token.encode()
        self.requests = 0
        self.commands: Counter[str] = Counter()
        self.faults: list[tuple[int, bytes, bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/__shim/stats" and method == "GET":
            await _reply(send, 200, {"requests": self.requests, "commands": self.commands})
            return
        if path == "/__shim/reset" and method == "POST":
            self.requests = 0
            self.commands.clear()
            self.faults.clear()
            await _reply(send, 200, {"result": "OK"})
            return
        if path == "/__shim/fault" and method == "POST":
            fault = json.loads(await _read_body(receive))
            reply = (fault["status"], fault["body"].encode(), fault["content_type"].encode())
            self.faults.extend([reply] * fault["times"])
            await _reply(send, 200, {"result": "OK"})
            return
        if not self._authorized(scope):
            await _reply(send, 401, {"error": "Unauthorized"})
            return
        if method != "POST" or path not in ("", "/", "/pipeline", "/multi-exec"):
            await _reply(send, 404, {"error": "ERR unknown endpoint"})
            return
        self.requests += 1
        body = await _read_body(receive)
        if self.faults:
            status, raw, content_type = self.faults.pop(0)
            await _send(send, status, raw, content_type, self._sync_token())
            return
        try:
            payload = json.loads(body)
        except ValueError:
            await _reply(send, 400, {"error": "ERR failed to parse command"})
            return
        encode = _header(scope, b"upstash-encoding") == b"base64"
        if path in ("", "/"):
            status, reply = await self._one(payload, encode)
        else:
            status, reply = await self._batch(payload, encode, path == "/multi-exec")
        await _reply(send, status, reply, self._sync_token())

    def _sync_token(self) -> bytes:
        return str(sum(self.commands.values())).encode()

    def _authorized(self, scope: dict[str, Any]) -> bool:
        given = _header(scope, b"authorization") or b""
        return hmac.compare_digest(given, b"Bearer " + self.token)

    async def _one(self, command: object, encode: bool) -> tuple[int, object]:
        if not _is_command(command):
            return 400, {"error": "ERR a command must be a non-empty array"}
        assert isinstance(command, list)
        self.commands[str(command[0]).upper()] += 1
        try:
            result = await self.redis.execute_command(*command)
        except ResponseError as exc:
            return 400, {"error": _error_text(exc)}
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            print(f"upstash shim: {exc!r}", file=sys.stderr, flush=True)
            return 500, {"error": "ERR redis is unavailable"}
        return 200, {"result": _encode(result, encode)}

    async def _batch(self, commands: object, encode: bool, atomic: bool) -> tuple[int, object]:
        if not isinstance(commands, list) or not all(_is_command(c) for c in commands):
            return 400, {"error": "ERR a pipeline must be an array of commands"}
        pipe = self.redis.pipeline(transaction=atomic)
        for command in commands:
            self.commands[str(command[0]).upper()] += 1
            pipe.execute_command(*command)
        try:
            results = await pipe.execute(raise_on_error=False)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            return 500, {"error": "ERR redis is unavailable"}
        except ResponseError as exc:
            return 400, {"error": _error_text(exc)}
        return 200, [
            {"error": _error_text(r)}
            if isinstance(r, ResponseError)
            else {"result": _encode(r, encode)}
            for r in results
        ]


def _is_command(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value)
    )


def _error_text(exc: ResponseError) -> str:
    # redis-py strips the error code ("ERR", "NOSCRIPT"); Upstash keeps it.
    code = getattr(exc, "status_code", None)
    text = str(exc)
    return f"{code} {text}" if code else text


def _encode(value: object, b64: bool) -> object:
    if isinstance(value, bytes):
        if value == b"OK":
            return "OK"
        return base64.b64encode(value).decode() if b64 else value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_encode(v, b64) for v in value]
    return value


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value  # type: ignore[no-any-return]
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ValueError("request body too large")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _reply(send: Send, status: int, payload: object, sync: bytes | None = None) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    await _send(send, status, body, b"application/json", sync)


async def _send(
    send: Send, status: int, body: bytes, content_type: bytes, sync: bytes | None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if sync is not None:
        headers.append((b"upstash-sync-token", sync))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def serve(redis_url: str, token: str, port: int = 0) -> None:
    """Serve the shim on 127.0.0.1:``port`` and print its URL once it is up."""
    config = uvicorn.Config(
        UpstashShim(redis_url, token),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    # uvicorn binds the port itself (port 0: the kernel's pick); a socket handed in from
    # outside would miss asyncio's TCP_NODELAY and cost a delayed-ACK wait per request.
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            return
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    print(f"UPSTASH_SHIM_URL=http://127.0.0.1:{bound}", flush=True)
    await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.redis_url, args.token, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
