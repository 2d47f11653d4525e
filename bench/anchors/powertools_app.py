"""aws-lambda-powertools' APIGatewayHttpResolver, with CORS and a middleware for security."""

from __future__ import annotations

from typing import Any


def build(secure: bool) -> Any:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    if not secure:
        app = APIGatewayHttpResolver()

        @app.get("/hello")
        def hello() -> dict[str, bool]:
            return {"ok": True}

        return app.resolve

    import secrets

    import jwt
    from aws_lambda_powertools.event_handler import CORSConfig, Response
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

    from bench.anchors.common import AUDIENCE, ISSUER, ORIGIN, SECURITY_HEADERS, public_pem

    key = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(public_pem())
    app = APIGatewayHttpResolver(cors=CORSConfig(allow_origin=ORIGIN, allow_credentials=True))

    def security(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
        auth = app.current_event.headers.get("authorization", "")
        try:
            if not auth.lower().startswith("bearer "):
                raise jwt.InvalidTokenError("missing")
            jwt.decode(auth[7:], key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
        except jwt.PyJWTError:
            return Response(status_code=401, body="")
        response = next_middleware(app)
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = (
            f"script-src 'nonce-{secrets.token_urlsafe(16)}' 'strict-dynamic'"
        )
        return response

    app.use(middlewares=[security])

    @app.get("/hello")
    def hello() -> dict[str, bool]:
        return {"ok": True}

    return app.resolve
