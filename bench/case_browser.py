"""Per-request cost of the browser defenses, against a bare app in the same run.

Apps run with ``request_log=False``: the logger's price is measured in ``observability``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bench._timing import Row, interleaved_us, with_ratio
from daloy_edge import App, Headers, KeyRing, Request, Response
from daloy_edge.middleware.compression import Compression
from daloy_edge.middleware.cors import CORS, CORSConfig
from daloy_edge.middleware.csrf import CSRFConfig, CSRFProtect
from daloy_edge.middleware.secure_headers import SecureHeaders
from daloy_edge.middleware.sessions import SessionConfig, Sessions
from daloy_edge.signing import Signer

KEYS = KeyRing(["b" * 32, "o" * 32])
BIG = b'{"items":[' + b",".join(b'{"id":1,"name":"item","tags":["a"]}' for _ in range(5000)) + b"]}"


def _app(*middleware: object) -> App:
    app = App(middleware=list(middleware), request_log=False)  # type: ignore[arg-type]

    @app.get("/")
    async def index(request: Request) -> Response:
        return Response.json({"ok": True})

    @app.post("/")
    async def change(request: Request) -> Response:
        return Response.json({"ok": True})

    @app.get("/big")
    async def big(request: Request) -> Response:
        return Response(BIG, media_type="application/json")

    app.build()
    return app


def _request(path: str = "/", **headers: str) -> Request:
    return Request("GET", path, headers=Headers({"host": "bench", **headers}))


def _call(loop: asyncio.AbstractEventLoop, app: App, **headers: str) -> Callable[[], object]:
    path = headers.pop("path", "/")
    return lambda: loop.run_until_complete(app.handle(_request(path, **headers)))


def run() -> list[Row]:
    """Signer, cookie sessions, full browser stack and compression."""
    signer = Signer(KEYS, purpose="bench")
    token = signer.sign(b'{"user":"alice"}', now=1_700_000_000)
    sessions = Sessions(SessionConfig(keys=KEYS, allow_no_csrf=True))
    stack = (
        SecureHeaders(),
        Compression(),
        CORS(CORSConfig(allow_origins=("https://app.example",))),
        sessions,
        CSRFProtect(CSRFConfig(keys=KEYS)),
    )
    cookie_app = _app(Sessions(SessionConfig(keys=KEYS, allow_no_csrf=True)))
    signed = sessions.encode(sessions.load(_request())[0])
    loop = asyncio.new_event_loop()
    cases = {
        "signer": {
            "sign": lambda: signer.sign(b'{"user":"alice"}', now=1e9),
            "verify": lambda: signer.verify(token, now=1_700_000_001, max_age=60),
        },
        "request": {
            "bare app": _call(loop, _app()),
            "secure headers": _call(loop, _app(SecureHeaders())),
            "sessions (cookie sent)": _call(loop, cookie_app, cookie=f"__Host-session={signed}"),
            "full browser stack": _call(loop, _app(*stack), cookie=f"__Host-session={signed}"),
        },
        "big": {
            "no compression": _call(loop, _app(), path="/big"),
            "gzip": _call(loop, _app(Compression()), path="/big", **{"accept-encoding": "gzip"}),
            "br": _call(loop, _app(Compression()), path="/big", **{"accept-encoding": "br"}),
        },
    }
    rows = []
    try:
        for case, contenders in cases.items():
            timings = interleaved_us(contenders, number=200 if case == "big" else 500)
            rows += [Row(case, name, us) for name, us in timings.items()]
    finally:
        loop.close()
    return with_ratio(with_ratio(rows, "bare app"), "no compression")
