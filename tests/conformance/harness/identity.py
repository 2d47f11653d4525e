"""Credentials the conformance tests present: bearer JWTs, basic auth, webhook signatures
and session cookies, all made with the keys in ``CONFORMANCE_ENV``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from daloy_edge import KeyRing
from daloy_edge.middleware.sessions import Session, SessionConfig, Sessions
from tests.conformance.harness.targets import (
    ADMIN_PASSWORDS,
    ADMIN_USER,
    JWT_AUDIENCE,
    JWT_ISSUER,
    WEBHOOK_SECRETS,
)
from tests.jwtkit import mint, public_jwk


class Issuer:
    """An identity provider for one test session: a fresh P-256 key and a fresh RSA key
    published as a JWKS file (``DALOY_JWKS_FILE``), and tokens signed with them."""

    kid = "conformance-es256"
    rsa_kid = "conformance-rs256"

    def __init__(self, directory: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwks_file = directory / "jwks.json"
        self.jwks = {
            "keys": [public_jwk(self.key, self.kid), public_jwk(self.rsa_key, self.rsa_kid)]
        }
        self.jwks_file.write_text(json.dumps(self.jwks))

    def token(
        self, *scopes: str, key: object = None, alg: str = "ES256", **overrides: object
    ) -> str:
        """A valid token (ES256, or RS256 with the RSA key) for ``sub=conformance-user``
        with ``scopes``; ``key`` signs instead of the published key of ``alg``."""
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": JWT_ISSUER,
            "aud": JWT_AUDIENCE,
            "sub": "conformance-user",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "scope": " ".join(scopes),
        }
        claims.update(overrides)
        body = {k: v for k, v in claims.items() if v}
        if alg == "RS256":
            return mint(key or self.rsa_key, alg, self.rsa_kid, body)
        return mint(key or self.key, alg, self.kid, body)

    def bearer(self, *scopes: str, alg: str = "ES256", **overrides: object) -> dict[str, str]:
        """An ``Authorization`` header carrying :meth:`token`."""
        return {"Authorization": f"Bearer {self.token(*scopes, alg=alg, **overrides)}"}


def basic(user: str = ADMIN_USER, password: str = ADMIN_PASSWORDS[0]) -> dict[str, str]:
    """An ``Authorization: Basic`` header."""
    raw = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {raw}"}


def webhook_signature(
    body: bytes, *, at: int | None = None, secret: str = WEBHOOK_SECRETS[0]
) -> str:
    """``X-Signature: t=<unix>,v1=<hex hmac-sha256 of "<t>.<body>">``."""
    stamp = str(int(time.time()) if at is None else at)
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def session_cookie(user: str, signing_key: str) -> str:
    """A ``__Host-session`` cookie value for ``user`` signed by ``signing_key`` alone,
    as an instance still running with an older key list would have issued it."""
    sessions = Sessions(SessionConfig(keys=KeyRing([signing_key]), allow_no_csrf=True))
    session = Session.fresh(lambda: "conformance-session-id", lambda: int(time.time()))
    session["user"] = user
    return sessions.encode(session)
