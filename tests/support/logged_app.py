"""An app whose four routes write every kind of line a platform's log service reads: a
request line, a 5xx line with an exception, a handler's warning and an aborted stream."""

from __future__ import annotations

from daloy_edge import App, Request, Response
from daloy_edge.observability import RequestLog, get_logger


def logged_app(log: RequestLog, env: dict[str, str]) -> App:
    """``/ok``, ``/boom`` (a secret in its error), ``/note`` (a warning) and ``/cut`` (a
    stream failing after its first chunk, a secret in its error)."""
    app = App(request_log=log, env=env)

    @app.get("/ok")
    async def ok(request: Request) -> Response:
        return Response.json({"ok": True})

    @app.get("/boom")
    async def boom(request: Request) -> Response:
        raise RuntimeError("database said password=hunter2-from-db")

    @app.get("/note")
    async def note(request: Request) -> Response:
        get_logger(request).warning("stock low", sku="a1")
        return Response.json({"ok": True})

    @app.get("/cut")
    async def cut(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            yield b"first"
            raise RuntimeError("upstream said password=hunter2-mid-stream")

        return Response(stream=parts(), media_type="text/plain")

    return app
