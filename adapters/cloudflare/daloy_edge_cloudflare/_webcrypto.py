"""JWS signature verification with WebCrypto (``crypto.subtle``): no ``cryptography`` needed.

Implements the JWT layer's signature-backend protocol: ``import_key(key, alg)`` once per
key and algorithm, then ``verify(alg, prepared, signing_input, signature)``. Deciding
*whether* to verify (allowed ``alg``, key/algorithm match, signature shape) stays in the
JWT layer; this module only does the cryptography, the same way on every Worker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from daloy_edge import Secret
from daloy_edge.jose import InvalidKey
from daloy_edge_cloudflare._js import js_object, settled, to_uint8array

__all__ = ["WEBCRYPTO_ALGORITHMS", "InvalidKey", "VerificationKey", "WebCryptoBackend"]

_MAX_CACHED_KEYS = 256
_PUBLIC_MEMBERS = ("kty", "crv", "n", "e", "x", "y")


class VerificationKey(Protocol):
    """What the backend reads from a key: public JWK members, or an HMAC secret."""

    @property
    def params(self) -> Mapping[str, str]:
        """Public JWK members (``kty``, ``n``/``e``, ``crv``/``x``/``y``)."""
        ...

    @property
    def secret(self) -> Secret | None:
        """The HMAC secret of an ``oct`` key; ``None`` for public keys."""
        ...


@dataclass(frozen=True, slots=True)
class _Spec:
    kty: str
    import_params: Mapping[str, object]
    verify_params: Mapping[str, object]
    crv: str | None = None


def _rsa(name: str, bits: int, extra: Mapping[str, object] | None = None) -> _Spec:
    hash_name = {"name": f"SHA-{bits}"}
    return _Spec("RSA", {"name": name, "hash": hash_name}, {"name": name, **(extra or {})})


def _ec(curve: str, bits: int) -> _Spec:
    return _Spec(
        "EC",
        {"name": "ECDSA", "namedCurve": curve},
        {"name": "ECDSA", "hash": {"name": f"SHA-{bits}"}},
        curve,
    )


_SPECS: dict[str, _Spec] = {
    "RS256": _rsa("RSASSA-PKCS1-v1_5", 256),
    "RS384": _rsa("RSASSA-PKCS1-v1_5", 384),
    "RS512": _rsa("RSASSA-PKCS1-v1_5", 512),
    "PS256": _rsa("RSA-PSS", 256, {"saltLength": 32}),
    "PS384": _rsa("RSA-PSS", 384, {"saltLength": 48}),
    "PS512": _rsa("RSA-PSS", 512, {"saltLength": 64}),
    "ES256": _ec("P-256", 256),
    "ES384": _ec("P-384", 384),
    "ES512": _ec("P-521", 512),
    "EdDSA": _Spec("OKP", {"name": "Ed25519"}, {"name": "Ed25519"}, "Ed25519"),
}
_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}

WEBCRYPTO_ALGORITHMS = frozenset(_SPECS) | frozenset(_HMAC)
"""Every ``alg`` this backend verifies (HMAC with the stdlib, the rest with WebCrypto)."""

# Imported CryptoKeys live as long as the isolate, keyed by algorithm and key material,
# so a refreshed JWKS that still carries the same key does not pay for a new import.
_KEYS: dict[tuple[str, str], object] = {}


class WebCryptoBackend:
    """Signature backend for Workers: RS/PS 256-512, ES256/384/512, EdDSA (Ed25519), HS*.

    Security: only the public JWK members reach ``importKey`` (never ``alg``, ``use`` or
    private members), so what a key may verify is decided by the JWT layer alone.
    ``verify`` returns False, never raises, for a signature that does not check out.
    """

    __slots__ = ()

    async def import_key(self, key: VerificationKey, alg: str) -> object:
        """Import ``key`` for ``alg`` (cached per isolate); :class:`InvalidKey` if unusable."""
        if alg in _HMAC:
            if key.secret is None:
                raise InvalidKey("HMAC needs a secret key")
            return key.secret
        spec = _SPECS.get(alg)
        if spec is None:
            raise InvalidKey("unsupported algorithm")
        public = {m: key.params[m] for m in _PUBLIC_MEMBERS if m in key.params}
        if public.get("kty") != spec.kty or public.get("crv") != spec.crv:
            raise InvalidKey("key type does not match the algorithm")
        cache_key = (alg, json.dumps(public, sort_keys=True))
        cached = _KEYS.get(cache_key)
        if cached is not None:
            return cached
        imported = await _import(public, spec)
        if len(_KEYS) >= _MAX_CACHED_KEYS:
            _KEYS.pop(next(iter(_KEYS)))
        _KEYS[cache_key] = imported
        return imported

    async def verify(self, alg: str, key: object, signing_input: bytes, signature: bytes) -> bool:
        """True only when ``signature`` (JWS form; ECDSA raw ``r || s``) is valid."""
        if alg in _HMAC:
            if not isinstance(key, Secret):
                return False
            expected = hmac.new(key.reveal(), signing_input, _HMAC[alg]).digest()
            return hmac.compare_digest(expected, signature)
        spec = _SPECS.get(alg)
        if spec is None:
            return False
        from js import crypto
        from pyodide.ffi import JsException

        try:
            # Through settled, as a fetch is: the request deadline can cancel the wait.
            valid = await settled(
                crypto.subtle.verify,
                js_object(spec.verify_params),
                key,
                to_uint8array(signature),
                to_uint8array(signing_input),
            )
        except JsException:
            return False
        return valid is True


async def _import(public: Mapping[str, str], spec: _Spec) -> object:
    from js import crypto
    from pyodide.ffi import JsException, to_js

    jwk = js_object({**public, "ext": True})
    try:
        imported: object = await settled(
            crypto.subtle.importKey,
            "jwk",
            jwk,
            js_object(spec.import_params),
            False,
            to_js(["verify"]),
        )
    except JsException:
        raise InvalidKey("key material rejected by WebCrypto") from None
    return imported
