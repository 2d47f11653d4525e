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
