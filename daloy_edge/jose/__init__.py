"""Pure JOSE: compact JWS parsing, JWK/JWKS, claims validation and signature backends.

Nothing here knows about requests or responses; :mod:`daloy_edge.middleware.jwt` is the
HTTP glue. Signature checks go through a :class:`SignatureBackend` (PyJWT's algorithms on
CPython, imported only when a key is first used).

>>> from daloy_edge.jose import ClaimsPolicy, JWKSet, JWTVerifier
>>> verifier = JWTVerifier(
...     keys=JWKSet.symmetric({"k1": "an HMAC key of at least 32 bytes!"}),
...     algorithms=["HS256"], allow_symmetric=True,
...     policy=ClaimsPolicy(issuer="https://idp.example", audience="api"))
"""

from __future__ import annotations

from daloy_edge._lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge.jose._algorithms import (
        ALGORITHMS,
        ASYMMETRIC_ALGORITHMS,
        SYMMETRIC_ALGORITHMS,
        Algorithm,
    )
    from daloy_edge.jose._b64 import b64url_decode, b64url_encode
    from daloy_edge.jose._backend import (
        PyJWTBackend,
        SignatureBackend,
        default_backend,
        set_default_backend,
    )
    from daloy_edge.jose._claims import ClaimsPolicy, validate_claims
    from daloy_edge.jose._errors import InvalidKey, InvalidToken, JoseError, KeysUnavailable
    from daloy_edge.jose._jwk import JWK, JWKSet, parse_jwk
    from daloy_edge.jose._jwks_client import JWKSClient, cache_ttl
    from daloy_edge.jose._jws import REFUSED_HEADERS, CompactJWS, check_header, parse_compact
    from daloy_edge.jose._verifier import JWTVerifier, KeySource, VerifiedToken

__all__ = [
    "ALGORITHMS",
    "ASYMMETRIC_ALGORITHMS",
    "JWK",
    "REFUSED_HEADERS",
    "SYMMETRIC_ALGORITHMS",
    "Algorithm",
    "ClaimsPolicy",
    "CompactJWS",
    "InvalidKey",
    "InvalidToken",
    "JWKSClient",
    "JWKSet",
    "JWTVerifier",
    "JoseError",
    "KeySource",
    "KeysUnavailable",
    "PyJWTBackend",
    "SignatureBackend",
    "VerifiedToken",
    "b64url_decode",
    "b64url_encode",
    "cache_ttl",
    "check_header",
    "default_backend",
    "parse_compact",
    "parse_jwk",
    "set_default_backend",
    "validate_claims",
]

# Each name loads its module on first access: middleware that only needs the algorithm
# table or the claims policy does not load the JWS, JWK, JWKS-client and backend modules.
_HOME = {
    "ALGORITHMS": "_algorithms",
    "ASYMMETRIC_ALGORITHMS": "_algorithms",
    "SYMMETRIC_ALGORITHMS": "_algorithms",
    "Algorithm": "_algorithms",
    "b64url_decode": "_b64",
    "b64url_encode": "_b64",
    "PyJWTBackend": "_backend",
    "SignatureBackend": "_backend",
    "default_backend": "_backend",
    "set_default_backend": "_backend",
    "ClaimsPolicy": "_claims",
    "validate_claims": "_claims",
    "InvalidKey": "_errors",
    "InvalidToken": "_errors",
    "JoseError": "_errors",
    "KeysUnavailable": "_errors",
    "JWK": "_jwk",
    "JWKSet": "_jwk",
    "parse_jwk": "_jwk",
    "JWKSClient": "_jwks_client",
    "cache_ttl": "_jwks_client",
    "REFUSED_HEADERS": "_jws",
    "CompactJWS": "_jws",
    "check_header": "_jws",
    "parse_compact": "_jws",
    "JWTVerifier": "_verifier",
    "KeySource": "_verifier",
    "VerifiedToken": "_verifier",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME, globals())
