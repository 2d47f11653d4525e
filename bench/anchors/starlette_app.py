"""Starlette + Mangum (lifespan off), with pure ASGI middleware for the secure variant."""

from __future__ import annotations

from typing import Any


def build(secure: bool) -> Any:
    from mangum import Mangum
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    if not secure:

        async def hello(request: Request) -> JSONResponse:
            return JSONResponse({"ok": True})

        return Mangum(Starlette(routes=[Route("/hello", hello)]), lifespan="off")

    import secrets

    import jwt
    from starlette.middleware.cors import CORSMiddleware

    from bench.anchors.common import AUDIENCE, ISSUER, ORIGIN, SECURITY_HEADERS, public_pem

    key = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(public_pem())
    static = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    class SecureHeaders:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def send_with_headers(message: Any) -> None:
                if message["type"] == "http.response.start":
                    csp = f"script-src 'nonce-{secrets.token_urlsafe(16)}' 'strict-dynamic'"
                    message["headers"] = [
                        *message.get("headers", []),
                        *static,
                        (b"content-security-policy", csp.encode()),
                    ]
                await send(message)

            await self.app(scope, receive, send_with_headers)

    async def hello(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return JSONResponse({}, status_code=401)
        try:
            jwt.decode(auth[7:], key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
        except jwt.PyJWTError:
            return JSONResponse({}, status_code=401)
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[Route("/hello", hello)],
        middleware=[
            Middleware(SecureHeaders),
            Middleware(CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        ],
    )
    return Mangum(app, lifespan="off")
