"""Per-request cost of the browser defenses, against a bare app in the same run."""

from __future__ import annotations

from bench._timing import Row, amedian_us, median_us, with_ratio
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
    app = App(middleware=list(middleware))  # type: ignore[arg-type]

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


def _row(case: str, contender: str, app: App, **headers: str) -> Row:
    path = headers.pop("path", "/")
    return Row(case, contender, amedian_us(lambda: app.handle(_request(path, **headers))))


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
    rows = [
        Row("signer", "sign", median_us(lambda: signer.sign(b'{"user":"alice"}', now=1e9))),
        Row(
            "signer",
            "verify",
            median_us(lambda: signer.verify(token, now=1_700_000_001, max_age=60)),
        ),
        _row("request", "bare app", _app()),
        _row("request", "secure headers", _app(SecureHeaders())),
        _row("request", "sessions (cookie sent)", cookie_app, cookie=f"__Host-session={signed}"),
        _row("request", "full browser stack", _app(*stack), cookie=f"__Host-session={signed}"),
        _row("big", "no compression", _app(), path="/big"),
        _row("big", "gzip", _app(Compression()), path="/big", **{"accept-encoding": "gzip"}),
        _row("big", "br", _app(Compression()), path="/big", **{"accept-encoding": "br"}),
    ]
    return with_ratio(with_ratio(rows, "bare app"), "no compression")
