"""What every contender shares: the event, the key pair, the token and the headers."""

from __future__ import annotations

import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEY_DIR = HERE.parent / ".keys"
ISSUER = "https://issuer.bench.example"
AUDIENCE = "bench-api"
ORIGIN = "https://app.bench.example"
SESSION_KEYS = "kR7w2mQ9xT4vB8nL1pZ6cF3hJ5sD0gYa,old-key-uE2rW9qT5yU1iO7pA3sD6fG8hJ4kL0z"
TOKEN_POOL = 600
SECURITY_HEADERS = {
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def http_api_event(token: str | None = None) -> dict[str, object]:
    """An HTTP API (v2) event for GET /hello."""
    headers = {
        "host": "abc.execute-api.us-east-1.amazonaws.com",
        "origin": ORIGIN,
        "user-agent": "bench",
    }
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/hello",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "domainName": "abc.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc",
            "http": {
                "method": "GET",
                "path": "/hello",
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "bench",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "29/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1796040000000,
        },
        "isBase64Encoded": False,
    }


class Context:
    """The parts of a Lambda context object the contenders read."""

    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def ensure_keys() -> None:
    """Create the RSA key pair and its JWKS, and mint a fresh token (valid for 12 hours)."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    KEY_DIR.mkdir(exist_ok=True)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (KEY_DIR / "public.pem").write_bytes(pem)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": "bench-1", "alg": "RS256", "use": "sig"})
    (KEY_DIR / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    now = int(time.time())
    claims = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 12 * 3600,
        "scope": "hello:read reports:read reports:write",
    }
    token = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "bench-1"})
    (KEY_DIR / "token.txt").write_text(token)
    # Distinct tokens (by jti) for contenders that must not meet the same token twice.
    many = [
        jwt.encode({**claims, "jti": f"{n:08x}"}, private, "RS256", headers={"kid": "bench-1"})
        for n in range(TOKEN_POOL)
    ]
    (KEY_DIR / "tokens.txt").write_text("\n".join(many))


def token() -> str:
    return (KEY_DIR / "token.txt").read_text().strip()


def tokens() -> list[str]:
    """``TOKEN_POOL`` distinct valid tokens, more than a verifier remembers."""
    return (KEY_DIR / "tokens.txt").read_text().split()


def public_pem() -> bytes:
    return (KEY_DIR / "public.pem").read_bytes()


def reference_env() -> dict[str, str]:
    """A production configuration of the reference app: keys, JWKS, CORS, webhooks, admin."""
    return {
        "DALOY_ENV": "production",
        "DALOY_SESSION_KEYS": SESSION_KEYS,
        "DALOY_JWKS_FILE": str(KEY_DIR / "jwks.json"),
        "DALOY_JWT_ISSUER": ISSUER,
        "DALOY_JWT_AUDIENCE": AUDIENCE,
        "DALOY_CORS_ORIGINS": ORIGIN,
        "DALOY_WEBHOOK_SECRETS": "whsec-bench-0123456789abcdef0123456789",
        "DALOY_ADMIN_USER": "ops",
        "DALOY_ADMIN_PASSWORDS": "correct-horse-battery-staple-0001",
    }
