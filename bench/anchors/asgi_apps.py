"""ASGI contenders for uvicorn (``--factory``): each answers ``GET /hello`` with ``{"ok":true}``."""

from __future__ import annotations

from typing import Any

BODY = b'{"ok":true}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"11")]


def raw() -> Any:
    """The floor: a hand-written ASGI callable, no routing, no framework."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})

    return app


def raw_contract() -> Any:
    """The floor under the contract: :func:`raw` plus what every daloy_edge response must
    carry (``X-Request-Id``, ``Server-Timing``) and one OTel-shaped JSON log line on
    stdout, all written by hand: no parsing, no checks, no routing."""
    import os
    import sys
    import time
    from json.encoder import encode_basestring_ascii as escape

    base = raw()
    resource = (
        '{"telemetry.sdk.name":"daloy-edge","telemetry.sdk.language":"python",'
        '"service.name":"daloy-edge","daloy.runtime":"asgi"}'
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await base(scope, receive, send)
        start_ns = time.time_ns()
        started = time.perf_counter()
        ids = os.urandom(32).hex()
        request_id = f"{ids[:8]}-{ids[8:12]}-4{ids[13:16]}-a{ids[17:20]}-{ids[20:32]}"
        total = (time.perf_counter() - started) * 1000
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"x-request-id", request_id.encode()),
                    (b"server-timing", f"handler;dur=0.01, total;dur={total:.2f}".encode()),
                    (b"content-length", b"11"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": BODY})
        agent = dict(scope["headers"]).get(b"user-agent", b"").decode("latin-1")
        sys.stdout.write(
            f'{{"Timestamp":"{start_ns}","ObservedTimestamp":"{time.time_ns()}",'
            '"SeverityText":"INFO","SeverityNumber":9,"Body":"GET /hello 200",'
            '"EventName":"http.server.request","Attributes":{"http.request.method":"GET",'
            f'"url.path":{escape(scope["path"])},"url.scheme":"http","http.response.status_code":200,'
            f'"http.server.request.duration":{time.perf_counter() - started:.6f},'
            f'"http.request.id":"{request_id}","http.route":"/hello",'
            f'"client.address":"{scope["client"][0]}","user_agent.original":{escape(agent)},'
            '"http.response.body.size":11},'
            f'"TraceId":"{ids[32:]}","SpanId":"{ids[48:]}","TraceFlags":"01",'
            f'"Resource":{resource}}}\n'
        )
        sys.stdout.flush()
        return None

    return app


def starlette() -> Any:
    """Bare Starlette: one route, no middleware."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/hello", hello)])


def daloy() -> Any:
    """daloy_edge's default stack: ``App()`` with one route, through the ASGI adapter."""
    from daloy_edge_asgi import ASGIApp

    from daloy_edge import App, Request

    app = App()

    @app.get("/hello")
    async def hello(request: Request) -> dict[str, bool]:
        return {"ok": True}

    return ASGIApp(app)


def refuse_body() -> Any:
    """What uvicorn itself holds for a streamed upload: 413 at the first body chunk."""
    base = raw()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await base(scope, receive, send)
        await receive()
        await send({"type": "http.response.start", "status": 413, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})
        return None

    return app
