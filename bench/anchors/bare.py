"""The floor: a hand-written Lambda handler."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

Handler = Callable[[dict, object], dict]


def build(secure: bool) -> Handler:
    if not secure:

        def handler(event: dict, context: object) -> dict:
            return {
                "statusCode": 200,
                "headers": {"content-type": "application/json"},
                "body": json.dumps({"ok": True}),
            }

        return handler

    import jwt

    from bench.anchors.common import AUDIENCE, ISSUER, ORIGIN, SECURITY_HEADERS, public_pem

    key = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(public_pem())

    def secure_handler(event: dict, context: object) -> dict:
        headers = event.get("headers") or {}
        out = dict(SECURITY_HEADERS)
        out["content-security-policy"] = (
            f"script-src 'nonce-{secrets.token_urlsafe(16)}' 'strict-dynamic'; object-src 'none'"
        )
        if headers.get("origin") == ORIGIN:
            out["access-control-allow-origin"] = ORIGIN
            out["vary"] = "Origin"
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return {"statusCode": 401, "headers": out, "body": ""}
        try:
            jwt.decode(auth[7:], key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
        except jwt.PyJWTError:
            return {"statusCode": 401, "headers": out, "body": ""}
        out["content-type"] = "application/json"
        return {"statusCode": 200, "headers": out, "body": json.dumps({"ok": True})}

    return secure_handler
