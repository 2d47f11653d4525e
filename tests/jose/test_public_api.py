"""The public surface of the identity modules, pinned, and their lazy imports."""

from __future__ import annotations

import subprocess
import sys

import daloy_edge.jose
from daloy_edge.middleware import basic_auth, client_ip, ip_filter, jwt, scopes


def test_jose_public_names_are_pinned():
    assert sorted(daloy_edge.jose.__all__) == sorted(
        [
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
            "set_default_backend",
            "parse_compact",
            "parse_jwk",
            "validate_claims",
        ]
    )


def test_middleware_public_names_are_pinned():
    assert jwt.__all__ == ["JWTAuth", "JWTConfig"]
    assert scopes.__all__ == ["RequireScopes", "requires"]
    assert basic_auth.__all__ == ["BasicAuth", "BasicAuthConfig"]
    assert ip_filter.__all__ == ["IPFilter", "IPFilterConfig"]
    assert client_ip.__all__ == ["TrustedProxies", "TrustedProxiesConfig"]


def test_there_is_no_none_algorithm():
    assert not any(name.lower() == "none" for name in daloy_edge.jose.ALGORITHMS)


def test_identity_modules_import_no_crypto_or_http_client_until_used():
    code = (
        "import sys, daloy_edge.jose, daloy_edge.middleware.jwt, daloy_edge.middleware.basic_auth,"
        " daloy_edge.middleware.client_ip, daloy_edge.middleware.ip_filter;"
        " import examples.reference.identity;"
        " print(sorted(m for m in ('jwt', 'cryptography', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=__file__.rsplit("/tests/", 1)[0],
    )
    assert out.stdout.strip() == "[]"
