"""A Worker exercising the adapter itself (loaded at /session/metadata in Pyodide)."""

import asyncio
import gzip
import sys

from daloy_edge_cloudflare import WAIT_UNTIL, WorkersApp, entrypoint

from daloy_edge import App, Response
from daloy_edge.transport import default_transport

BUILT: list[str] = []
LATE_TOKEN = "s3cret-\u20ac"
DONE: list[str] = []


async def _stream():
    for part in (b"one,", b"two,", b"three"):
        await asyncio.sleep(0)
        yield part


async def _failing_stream():
    yield b"one,"
    raise RuntimeError("internal detail /srv/app.py")


def create_app(env):
    BUILT.append(env.get("GREETING", ""))
    app = App(env=env, max_body=int(env.get("MAX_BODY", "1024")))

    @app.get("/cookies")
    async def cookies(request):
        response = Response.json({"ok": True})
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        response.delete_cookie("c")
        return response

    @app.route("/upload", ["GET", "POST"])
    async def upload(request):
        body = await request.body()
        return {"bytes": len(body), "head": body[:8].decode("latin-1")}

    @app.get("/env")
    async def env_view(request):
        return {
            "names": sorted(request.env),
            "greeting": request.env.get("GREETING"),
            "same_as_app": request.env is app.env,
            "kv": type(request.env.binding("KV")).__name__,
            "built": BUILT,
        }

    @app.get("/request")
    async def describe(request):
        return {
            "client": request.client,
            "client_ip": request.client_ip,
            "host": request.host,
            "scheme": request.scheme,
            "raw_path": request.raw_path,
            "query": request.query.get_all("q"),
            "runtime": request.runtime,
            "headers": request.headers.items(),
        }

    @app.get("/defer")
    async def defer(request):
        async def later():
            await asyncio.sleep(0.05)
            DONE.append("deferred")

        request.state[WAIT_UNTIL](later())
        return {"done": list(DONE)}

    @app.get("/done")
    async def done(request):
        return {"done": list(DONE)}

    @app.get("/transport")
    async def transport(request):
        return {"default": type(default_transport()).__name__}

    @app.delete("/nothing")
    async def nothing(request):
        return None

    @app.get("/stream")
    async def stream(request):
        return Response(stream=_stream(), media_type="text/plain")

    @app.get("/stream-fails")
    async def stream_fails(request):
        return Response(stream=_failing_stream(), media_type="text/plain")

    @app.get("/gzipped")
    async def gzipped(request):
        body = gzip.compress(b"already compressed " * 20)
        return Response(body, headers={"content-encoding": "gzip"}, media_type="text/plain")

    @app.get("/chunked")
    async def chunked(request):
        return Response(b"whole", headers={"transfer-encoding": "chunked"}, media_type="text/plain")

    @app.get("/misstated")
    async def misstated(request):
        return Response(b"hello", headers={"content-length": "3"}, media_type="text/plain")

    @app.get("/contentless")
    async def contentless(request):
        status, _, length = request.query["answer"].partition(":")
        return Response(b"", int(status), headers={"content-length": length})

    @app.get("/late-header")
    async def late_header(request):
        # Fields the Fetch API refuses, added after the Response was made: refused where
        # they are added. The value is a name here, as in a handler (the log's trace
        # quotes the line).
        response = Response.json({"ok": True})
        if request.query.get("field") == "name":
            response.headers.add("x token", "v")
        else:
            response.headers["x-token"] = LATE_TOKEN
        return response

    @app.get("/raises")
    async def raises(request):
        # What a handler raising past Exception meets: argparse or click reading client
        # input call sys.exit; the rest reach a handler from the libraries it calls.
        kind = request.query["kind"]
        if kind == "exit":
            sys.exit(2)
        if kind == "interrupt":
            raise KeyboardInterrupt
        if kind == "generator-exit":
            raise GeneratorExit
        raise BaseExceptionGroup("group", [KeyboardInterrupt()])

    return app


async def flush():
    DONE.append("flushed")


FACTORY_RUNS: list[int] = []


def create_app_failing_first(env):
    """A factory whose first run fails, as one reading a secret not yet readable."""
    FACTORY_RUNS.append(1)
    if len(FACTORY_RUNS) == 1:
        raise OSError("secrets endpoint not reachable")
    return create_app(env)


Default = entrypoint(create_app, flush=flush)
FailingFirst = entrypoint(create_app_failing_first, name="FailingFirst")
on_fetch = WorkersApp(create_app, flush=flush).fetch
