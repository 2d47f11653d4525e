"""FastAPI + Mangum, the way its docs show security: a Bearer dependency and CORS.

The dependency is ``async def``, as in FastAPI's security tutorial: a plain ``def`` would run
in the thread pool on every request, which cost this anchor more than half its warm secure
time."""

from __future__ import annotations

from typing import Any


def build(secure: bool) -> Any:
    from fastapi import FastAPI
    from mangum import Mangum

    if not secure:
        app = FastAPI()

        @app.get("/hello")
        async def hello() -> dict[str, bool]:
            return {"ok": True}

        return Mangum(app, lifespan="off")

    import secrets

    import jwt
    from fastapi import Depends, HTTPException, Request
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

    from bench.anchors.common import AUDIENCE, ISSUER, ORIGIN, SECURITY_HEADERS, public_pem

    key = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(public_pem())
    bearer = HTTPBearer()
    app = FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True)

    @app.middleware("http")
    async def secure_headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        response.headers["content-security-policy"] = (
            f"script-src 'nonce-{secrets.token_urlsafe(16)}' 'strict-dynamic'"
        )
        return response

    async def principal(creds: HTTPAuthorizationCredentials = Depends(bearer)) -> dict[str, Any]:
        try:
            return jwt.decode(
                creds.credentials, key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER
            )
        except jwt.PyJWTError:
            raise HTTPException(status_code=401) from None

    @app.get("/hello")
    async def hello(claims: dict[str, Any] = Depends(principal)) -> dict[str, bool]:
        return {"ok": True}

    return Mangum(app, lifespan="off")
