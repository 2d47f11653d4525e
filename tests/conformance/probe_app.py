"""Probe routes for the multi-value cases that keep breaking in adapters.

Served through every transport like the reference app: ``asgi``, ``lambda_handler`` and
``gcf_handler`` (functions-framework loads this file by path), and as a Worker
(``create_app``). The runtime adapters are imported only when their entry point is asked
for, so the Worker (Pyodide, without flask or boto3) imports this module as it is.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
from collections.abc import Mapping

from daloy_edge_asgi import ASGIApp

from daloy_edge import App, Request, Response

BINARY = bytes(range(256)) * 4
_DEFLATED = gzip.compress(b'{"compressed":true}' * 100, mtime=0)
# Byte 9 of a gzip header names the compressing OS (zlib writes 3 on Linux, 255 under
# Emscripten); fixed to 255 ("unknown", RFC 1952) so every runtime serves the same bytes.
GZIPPED = _DEFLATED[:9] + b"\xff" + _DEFLATED[10:]
UNSENDABLE = {
    "crlf": ("x-note", "a\r\nset-cookie: forged=1"),
    "nul": ("x-note", "a\x00b"),
    "delete": ("x-note", "a\x7fb"),
    "euro": ("x-note", "\u20ac"),
    "name": ("x note", "1"),
}
"""Fields no runtime sends as given, as ``/headers/unsendable?field=`` adds them."""


def create_app(env: Mapping[str, str] = os.environ) -> App:
    """The probe app."""
    app = App(env=env)
    startups: list[int] = []

    @app.on_startup
    def started() -> None:
        startups.append(os.getpid())

    @app.get("/runtime")
    async def runtime(request: Request) -> Response:
        loop = asyncio.get_running_loop()
        return Response.json({"loop": id(loop), "pid": os.getpid(), "startups": len(startups)})

    @app.get("/sleep")
    async def sleep(request: Request) -> Response:
        await asyncio.sleep(int(request.query.get("ms") or "0") / 1000)
        return Response.json({"slept": True})

    @app.get("/cookies")
    async def cookies(request: Request) -> Response:
        response = Response.json({"ok": True})
        response.set_cookie("first", "1")
        response.set_cookie("second", "2", same_site="Strict")
        return response

    @app.get("/cookies/echo")
    async def cookies_echo(request: Request) -> Response:
        return Response.json(request.cookies)

    @app.get("/query")
    async def query(request: Request) -> Response:
        return Response.json({"items": request.query.items(), "raw": request.query_string})

    @app.get("/headers")
    async def headers(request: Request) -> Response:
        names = ("x-list", "x-repeat")
        seen = {name: request.headers.get_all(name) for name in names}
        response = Response.json(seen)
        response.headers["x-out-list"] = "alpha, beta"
        response.headers.add("x-out-repeat", "one")
        response.headers.add("x-out-repeat", "two")
        return response

    @app.get("/headers/unsendable")
    async def unsendable(request: Request) -> Response:
        # Added after the Response was made, as a handler or middleware would.
        name, value = UNSENDABLE[request.query.get("field") or ""]
        response = Response.json({"sent": True})
        response.headers.add(name, value)
        return response

    @app.route("/body", ["POST", "PUT"])
    async def body(request: Request) -> Response:
        data = await request.body()
        return Response.json(
            {
                "length": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "content_type": request.headers.get("content-type"),
            }
        )

    @app.get("/binary")
    async def binary(request: Request) -> Response:
        return Response(BINARY, media_type="application/octet-stream")

    @app.get("/gzip")
    async def gzipped(request: Request) -> Response:
        return Response(
            GZIPPED, headers={"content-encoding": "gzip"}, media_type="application/json"
        )

    @app.get("/large")
    async def large(request: Request) -> Response:
        size = int(request.query.get("bytes") or "0")
        return Response(b"x" * size, media_type="text/plain")

    @app.get("/empty")
    async def empty(request: Request) -> Response:
        return Response.empty()

    @app.get("/client")
    async def client(request: Request) -> Response:
        return Response.json({"client": request.client, "runtime": request.runtime})

    @app.get("/health")
    async def health(request: Request) -> Response:
        return Response.json({"status": "ok"})

    return app


app = create_app()
asgi = ASGIApp(app)


def __getattr__(name: str) -> object:
    if name == "lambda_handler":
        from daloy_edge_aws_lambda import handler

        globals()[name] = entry = handler(app)
        return entry
    if name == "gcf_handler":
        from daloy_edge_gcp_functions import handler as gcf

        globals()[name] = entry = gcf(app)
        return entry
    raise AttributeError(name)
