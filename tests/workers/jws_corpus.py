"""A corpus of valid and forged JWS signatures, judged by CPython's PyJWT + cryptography.

Keys are generated fresh per session. Each case is the public JWK (or HMAC secret), the
signing input and the signature, plus the verdict of PyJWT's algorithm objects over
``cryptography`` (the CPython backend of the JWT layer), which WebCrypto must match.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import get_default_algorithms

RSA_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGS = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
EC_ORDERS = {
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    "ES512": int(
        "01FF" + "FFFFFFFF" * 7 + "FFFFFFFA"
        "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}
ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493

COMMON_KINDS = ("valid", "tampered-payload", "other-key", "flipped-bit", "truncated")
KINDS: dict[str, tuple[str, ...]] = {
    **{alg: (*COMMON_KINDS, "other-padding") for alg in RSA_ALGS},
    **{alg: (*COMMON_KINDS, "high-s", "zero-r-s", "der-encoded") for alg in EC_ALGS},
    "EdDSA": (*COMMON_KINDS, "s-plus-order", "all-zero"),
    "HS256": ("valid", "tampered-payload", "other-key", "flipped-bit"),
}
CASE_IDS = [f"{alg}-{kind}" for alg, kinds in KINDS.items() for kind in kinds]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Case:
    """One signature to judge."""

    case_id: str
    alg: str
    jwk: dict[str, str]
    signing_input: str
    signature: bytes
    cpython_verdict: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.case_id,
            "alg": self.alg,
            "jwk": self.jwk,
            "signing_input": self.signing_input,
            "signature": b64url(self.signature),
        }


def _signing_input(alg: str, claims: dict[str, object]) -> str:
    header = b64url(json.dumps({"alg": alg, "kid": "k1", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}"


def _public_jwk(alg: str, key: Any) -> dict[str, str]:
    impl = get_default_algorithms()[alg]
    jwk = json.loads(impl.to_jwk(key.public_key()))
    return {k: v for k, v in jwk.items() if k in ("kty", "crv", "n", "e", "x", "y")}


def cpython_verdict(alg: str, jwk: dict[str, str], signing_input: str, signature: bytes) -> bool:
    """What PyJWT's algorithm over ``cryptography`` says (errors count as refusal)."""
    impl = get_default_algorithms()[alg]
    try:
        if alg.startswith("HS"):
            key = impl.prepare_key(base64.urlsafe_b64decode(jwk["k"] + "=="))
        else:
            key = impl.from_jwk(json.dumps(jwk))
        return bool(impl.verify(signing_input.encode(), key, signature))
    except Exception:
        return False


def _sign(alg: str, key: Any, data: str) -> bytes:
    impl = get_default_algorithms()[alg]
    return bytes(impl.sign(data.encode(), key))


def _flip(signature: bytes) -> bytes:
    return signature[:-1] + bytes([signature[-1] ^ 0x01])


def _high_s(alg: str, signature: bytes) -> bytes:
    half = len(signature) // 2
    s = int.from_bytes(signature[half:], "big")
    return signature[:half] + (EC_ORDERS[alg] - s).to_bytes(half, "big")


def _der(alg: str, signature: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    half = len(signature) // 2
    r = int.from_bytes(signature[:half], "big")
    s = int.from_bytes(signature[half:], "big")
    der = encode_dss_signature(r, s)
    assert decode_dss_signature(der) == (r, s)
    return der


def _s_plus_order(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:], "little") + ED25519_ORDER
    return signature[:32] + s.to_bytes(32, "little")


def _keypairs() -> dict[str, tuple[Any, Any]]:
    rsa_pair = tuple(rsa.generate_private_key(65537, 2048) for _ in range(2))
    pairs: dict[str, tuple[Any, Any]] = {alg: rsa_pair for alg in RSA_ALGS}
    for alg, curve in EC_ALGS.items():
        pairs[alg] = (ec.generate_private_key(curve), ec.generate_private_key(curve))
    pairs["EdDSA"] = (ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate())
    pairs["HS256"] = (b"a" * 32 + b"-first-secret", b"b" * 32 + b"-other-secret")
    return pairs


def _forgery(alg: str, kind: str, keys: tuple[Any, Any], data: str) -> tuple[str, bytes]:
    signature = _sign(alg, keys[0], data)
    tampered = data[:-2] + ("x" if data[-2] != "x" else "y") + data[-1]
    builders: dict[str, Callable[[], tuple[str, bytes]]] = {
        "valid": lambda: (data, signature),
        "tampered-payload": lambda: (tampered, signature),
        "other-key": lambda: (data, _sign(alg, keys[1], data)),
        "flipped-bit": lambda: (data, _flip(signature)),
        "truncated": lambda: (data, signature[:-1]),
        "other-padding": lambda: (data, _sign(_other_padding(alg), keys[0], data)),
        "high-s": lambda: (data, _high_s(alg, signature)),
        "zero-r-s": lambda: (data, bytes(len(signature))),
        "der-encoded": lambda: (data, _der(alg, signature)),
        "s-plus-order": lambda: (data, _s_plus_order(signature)),
        "all-zero": lambda: (data, bytes(64)),
    }
    return builders[kind]()


def _other_padding(alg: str) -> str:
    return ("PS" if alg.startswith("RS") else "RS") + alg[2:]


def build_corpus() -> list[Case]:
    """Every case of :data:`CASE_IDS`, with CPython's verdict."""
    cases = []
    for alg, keys in _keypairs().items():
        secret = alg == "HS256"
        jwk = {"kty": "oct", "k": b64url(keys[0])} if secret else _public_jwk(alg, keys[0])
        data = _signing_input(alg, {"sub": "user-1", "scope": "reports:read"})
        for kind in KINDS[alg]:
            signing_input, signature = _forgery(alg, kind, keys, data)
            verdict = cpython_verdict(alg, jwk, signing_input, signature)
            cases.append(Case(f"{alg}-{kind}", alg, jwk, signing_input, signature, verdict))
    return cases
