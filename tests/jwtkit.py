"""Keys and token builders shared by the JWT, JWKS and reference-app tests.

Tokens are produced with PyJWT and ``cryptography`` (the signing side, which daloy_edge
does not implement); malformed tokens are assembled by hand.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://idp.test"
AUDIENCE = "api://daloy"
NOW = 1_700_000_000.0


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@functools.cache
def rsa_key(kid: str = "rsa-1", bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_key(kid: str = "ec-256", curve: str = "P-256") -> ec.EllipticCurvePrivateKey:
    curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
    return ec.generate_private_key(curves[curve])


@functools.cache
def ed_key(kid: str = "ed-1") -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def public_jwk(private_key: object, kid: str, **extra: object) -> dict[str, object]:
    """The public JWK of ``private_key`` with ``kid`` and any extra members."""
    public = private_key.public_key()  # type: ignore[attr-defined]
    if isinstance(public, rsa.RSAPublicKey):
        data = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        data = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        data = OKPAlgorithm.to_jwk(public, as_dict=True)
    data.pop("key_ops", None)
    data["kid"] = kid
    data.update(extra)
    return data


def claims(**overrides: object) -> dict[str, object]:
    """Valid claims at :data:`NOW`; ``None`` values remove a claim."""
    base: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": int(NOW) - 10,
        "nbf": int(NOW) - 10,
        "exp": int(NOW) + 600,
        "scope": "reports:read",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(
    private_key: object, alg: str, kid: str | None, body: dict | None = None, **headers: object
) -> str:
    """A properly signed token."""
    if kid is not None:
        headers["kid"] = kid
    return jwt.encode(
        body if body is not None else claims(), private_key, algorithm=alg, headers=headers
    )


def sign_raw(header: dict | str, payload: bytes | str, private_key: object, alg: str) -> str:
    """Sign arbitrary header/payload text (for duplicate keys and other odd JSON)."""
    header_text = header if isinstance(header, str) else json.dumps(header)
    payload_bytes = payload.encode() if isinstance(payload, str) else payload
    signing_input = f"{b64(header_text.encode())}.{b64(payload_bytes)}"
    signature = raw_signature(private_key, alg, signing_input.encode())
    return f"{signing_input}.{b64(signature)}"


def raw_signature(private_key: object, alg: str, message: bytes) -> bytes:
    if isinstance(private_key, bytes):
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        return hmac.new(private_key, message, digest).digest()
    algorithm = jwt.get_algorithm_by_name(alg)
    return algorithm.sign(message, private_key)


def assemble(header: dict | str, payload: dict | str, signature: bytes = b"sig") -> str:
    """An unsigned-but-well-formed token with an arbitrary signature."""
    header_text = header if isinstance(header, str) else json.dumps(header)
    payload_text = payload if isinstance(payload, str) else json.dumps(payload)
    return f"{b64(header_text.encode())}.{b64(payload_text.encode())}.{b64(signature)}"


def ecdsa_raw(private_key: ec.EllipticCurvePrivateKey, message: bytes, size: int) -> bytes:
    r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def jwks(*entries: dict[str, object]) -> dict[str, object]:
    return {"keys": list(entries)}
