"""JWK and JWKS parsing: supported key types, kid, use/key_ops/alg, weak and private keys."""

from __future__ import annotations

import json

import pytest

from daloy_edge.jose import ALGORITHMS, InvalidKey, JWKSet, parse_jwk
from tests.jwtkit import b64, ec_key, ed_key, jwks, public_jwk, rsa_key


@pytest.mark.parametrize(
    ("kid", "make", "alg"),
    [
        ("rsa", rsa_key, "RS256"),
        ("p256", ec_key, "ES256"),
        ("p384", lambda: ec_key("p384", "P-384"), "ES384"),
        ("p521", lambda: ec_key("p521", "P-521"), "ES512"),
        ("ed", ed_key, "EdDSA"),
    ],
)
def test_supported_key_types_parse_and_accept_their_algorithm(kid, make, alg):
    key = parse_jwk(public_jwk(make(), kid))
    assert key.kid == kid
    assert key.accepts(ALGORITHMS[alg])


def test_rsa_key_accepts_pss_unless_alg_pins_it():
    assert parse_jwk(public_jwk(rsa_key(), "r")).accepts(ALGORITHMS["PS256"])
    pinned = parse_jwk(public_jwk(rsa_key(), "r", alg="RS256"))
    assert not pinned.accepts(ALGORITHMS["PS256"])


def test_p256_key_does_not_accept_es384():
    assert not parse_jwk(public_jwk(ec_key(), "k")).accepts(ALGORITHMS["ES384"])


def test_rsa_modulus_length_is_recorded():
    assert parse_jwk(public_jwk(rsa_key(), "r")).rsa_bytes == 256


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda k: k.pop("kid"), "kid is required"),
        (lambda k: k.update(kid=""), "kid is required"),
        (lambda k: k.update(kid=7), "kid is required"),
        (lambda k: k.update(kid="x" * 300), "kid must be printable"),
        (lambda k: k.update(kid="a\nb"), "kid must be printable"),
        (lambda k: k.update(use="enc"), "use"),
        (lambda k: k.update(key_ops=["sign"]), "key_ops"),
        (lambda k: k.update(key_ops="verify"), "key_ops"),
        (lambda k: k.update(key_ops=["verify", "verify"]), "key_ops"),
        (lambda k: k.update(alg="RS256"), "alg"),
        (lambda k: k.update(alg="none"), "alg"),
        (lambda k: k.update(crv="P-384"), "coordinates"),
        (lambda k: k.update(crv="secp256k1"), "curve"),
        (lambda k: k.update(x=k["x"] + "="), "base64url"),
        (lambda k: k.update(d="AAAA"), "private"),
        (lambda k: k.update(kty="oct"), "symmetric"),
        (lambda k: k.update(kty="XYZ"), "unsupported"),
    ],
)
def test_unusable_ec_keys_are_refused_with_a_reason(mutate, reason):
    key = public_jwk(ec_key(), "k")
    mutate(key)
    with pytest.raises(InvalidKey, match=reason):
        parse_jwk(key)


def test_ec_point_must_have_exact_coordinate_length():
    key = public_jwk(ec_key(), "k")
    key["x"] = b64(b"\x00" + bytes(32))
    with pytest.raises(InvalidKey):
        parse_jwk(key)


def test_key_ops_with_verify_is_accepted():
    assert parse_jwk(public_jwk(ec_key(), "k", key_ops=["verify"])).kid == "k"


def test_rsa_below_2048_bits_is_refused():
    with pytest.raises(InvalidKey, match="2048"):
        parse_jwk(public_jwk(rsa_key("small", 1024), "k"))


def test_rsa_even_exponent_is_refused():
    key = public_jwk(rsa_key(), "k")
    key["e"] = b64((65536).to_bytes(3, "big"))
    with pytest.raises(InvalidKey, match="exponent"):
        parse_jwk(key)


def test_ed448_is_not_supported():
    with pytest.raises(InvalidKey):
        parse_jwk({"kty": "OKP", "crv": "Ed448", "x": b64(bytes(57)), "kid": "k"})


def test_oct_key_is_accepted_only_with_allow_symmetric():
    key = {"kty": "oct", "k": b64(b"s" * 32), "kid": "h"}
    with pytest.raises(InvalidKey):
        parse_jwk(key)
    assert parse_jwk(key, allow_symmetric=True).secret is not None


def test_short_hmac_key_does_not_accept_hs512():
    key = parse_jwk({"kty": "oct", "k": b64(b"s" * 32), "kid": "h"}, allow_symmetric=True)
    assert key.accepts(ALGORITHMS["HS256"])
    assert not key.accepts(ALGORITHMS["HS512"])


def test_hmac_secret_is_not_in_the_repr():
    key = JWKSet.symmetric({"h": "a-very-secret-hmac-key-of-32-bytes!"}).get("h")
    assert "a-very-secret" not in repr(key)


def test_jwks_skips_unusable_keys_and_keeps_the_rest():
    document = jwks(public_jwk(ec_key(), "good"), public_jwk(ec_key(), "enc", use="enc"))
    keys = JWKSet.parse(json.dumps(document))
    assert keys.kids() == ["good"]
    assert keys.skipped == (("enc", "key is not for signatures (use)"),)


def test_jwks_drops_a_duplicated_kid_entirely():
    document = jwks(
        public_jwk(ec_key(), "dup"),
        public_jwk(ec_key("other", "P-256"), "dup"),
        public_jwk(ed_key(), "ed"),
    )
    keys = JWKSet.parse(document)
    assert "dup" not in keys
    assert keys.kids() == ["ed"]


def test_jwks_with_private_material_is_refused_whole():
    document = jwks(public_jwk(ec_key(), "a"), public_jwk(rsa_key(), "b", d="AAAA"))
    with pytest.raises(InvalidKey, match="private"):
        JWKSet.parse(document)


def test_jwks_without_usable_keys_is_refused():
    with pytest.raises(InvalidKey, match="no usable keys"):
        JWKSet.parse(jwks(public_jwk(ec_key(), "enc", use="enc")))


@pytest.mark.parametrize(
    "document",
    [b"[]", b'{"keys": {}}', b'{"keys": [], "keys": []}', b"not json", b"\xef\xbb\xbf{}"],
)
def test_malformed_jwks_documents_are_refused(document):
    with pytest.raises(InvalidKey):
        JWKSet.parse(document)


def test_jwks_key_count_is_bounded():
    with pytest.raises(InvalidKey, match="more than"):
        JWKSet.parse(jwks(*[public_jwk(ec_key(), f"k{i}") for i in range(5)]), max_keys=4)


def test_symmetric_set_refuses_short_keys():
    with pytest.raises(InvalidKey):
        JWKSet.symmetric({"h": "short"})
