"""daloy_edge through its Lambda adapter; the secure variant adds JWT, CORS and secure headers."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # like an application would: typing is for the type checker only
    from typing import Any


def build(secure: bool) -> Any:
    from daloy_edge_aws_lambda import handler

    from daloy_edge import App, Request

    if not secure:
        app = App()

        @app.get("/hello")
        async def hello(request: Request) -> dict[str, bool]:
            return {"ok": True}

        return handler(app)

    from bench.anchors.common import AUDIENCE, ISSUER, KEY_DIR, ORIGIN
    from daloy_edge.jose import JWKSet
    from daloy_edge.middleware.cors import CORS, CORSConfig
    from daloy_edge.middleware.jwt import JWTAuth, JWTConfig
    from daloy_edge.middleware.secure_headers import SecureHeaders, SecureHeadersConfig

    keys = JWKSet.parse((KEY_DIR / "jwks.json").read_text())
    app = App(
        middleware=[
            SecureHeaders(SecureHeadersConfig()),
            CORS(CORSConfig(allow_origins=(ORIGIN,), allow_credentials=True)),
        ]
    )
    auth = JWTAuth(JWTConfig(issuer=ISSUER, audience=AUDIENCE, algorithms=("RS256",), keys=keys))

    @app.get("/hello", middleware=[auth])
    async def secure_hello(request: Request) -> dict[str, bool]:
        return {"ok": True}

    return handler(app)
