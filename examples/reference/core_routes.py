"""Routes that need only the core: health, echo, slow, boom, static, big."""

from __future__ import annotations

import os

from daloy_edge import App, BadRequest, Request, Response, static_files

STATIC_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")
MAX_SLOW_MS = 60_000


def _big_payload() -> dict[str, object]:
    items = [
        {
            "id": i,
            "name": f"item-{i}",
            "description": "A compressible description of a catalogue item.",
            "tags": ["alpha", "beta", "gamma"],
        }
        for i in range(1600)
    ]
    return {"items": items}


def install(app: App) -> None:
    """Add the core routes to ``app``."""
    big: list[bytes] = []  # encoded on the first request, not at every cold start

    @app.get("/health")
    async def health(request: Request) -> Response:
        return Response.json({"status": "ok"})

    @app.get("/echo")
    async def echo(request: Request) -> Response:
        return Response.json({"msg": request.query.get("msg", "")})

    @app.get("/slow")
    async def slow(request: Request) -> Response:
        values = request.query.get_all("ms")
        if len(values) > 1:
            # Ambiguous: the first is what query.get reads, the last is all an ALB without
            # multi-value headers forwards. Refused, as /fetch refuses a repeated url.
            raise BadRequest("give at most one ms parameter")
        raw = (values[0] if values else "") or "0"
        # Nine digits at most, checked before int(), which raises on more than 4300.
        if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) > MAX_SLOW_MS:
            raise BadRequest(f"ms must be an integer from 0 to {MAX_SLOW_MS}")
        import asyncio  # only this route needs the event loop's timers

        await asyncio.sleep(int(raw) / 1000)
        return Response.json({"slept_ms": int(raw)})

    @app.get("/boom")
    async def boom(request: Request) -> Response:
        raise RuntimeError("boom: this text must never reach a client in production")

    @app.get("/big")
    async def big_route(request: Request) -> Response:
        if not big:
            big.append(Response.json(_big_payload()).body)
        return Response(big[0], media_type="application/json")

    app.add_route("/static/{path:path}", static_files(STATIC_ROOT))
