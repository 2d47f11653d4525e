"""PyJWTBackend installed without what it needs: the error names the extra to install."""

from __future__ import annotations

import sys

import jwt.algorithms
import pytest

from daloy_edge.jose import JWK, JWKSet, PyJWTBackend
from tests.jwtkit import ec_key, jwks, public_jwk

KID = "ec-256"


def _key() -> JWK:
    key = JWKSet.parse(jwks(public_jwk(ec_key(KID), KID))).get(KID)
    assert key is not None
    return key


async def test_verifying_without_pyjwt_installed_names_the_jwt_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "jwt" or m.startswith("jwt.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'daloy-edge\[jwt\]'"):
        await PyJWTBackend().import_key(_key(), "ES256")


async def test_verifying_es256_with_pyjwt_but_no_cryptography_names_the_jwt_extra(monkeypatch):
    # What PyJWT offers when ``cryptography`` is not installed: the HMAC algorithms alone.
    hmac_only = {n: a for n, a in jwt.algorithms.get_default_algorithms().items() if n[:2] == "HS"}
    monkeypatch.setattr(jwt.algorithms, "get_default_algorithms", lambda: hmac_only)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'daloy-edge\[jwt\]'"):
        await PyJWTBackend().import_key(_key(), "ES256")
