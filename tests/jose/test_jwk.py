"""JWK and JWKS parsing: supported key types, kid, use/key_ops/alg, weak and private keys."""

from __future__ import annotations

import base64
import datetime
import json
import random

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID
from jwt.algorithms import HMACAlgorithm
from jwt.exceptions import InvalidKeyError

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


_P521_FIELD = 2**521 - 1


def _p521_alias(coordinate: str) -> dict[str, object]:
    """A P-521 key with one coordinate written as itself plus p: still 66 bytes."""
    key = public_jwk(ec_key("p521", "P-521"), "k")
    value = int.from_bytes(base64.urlsafe_b64decode(key[coordinate] + "=="), "big")
    key[coordinate] = b64((value + _P521_FIELD).to_bytes(66, "big"))
    return key


@pytest.mark.parametrize("coordinate", ["x", "y"])
def test_ec_coordinate_not_reduced_modulo_p_is_refused(coordinate):
    # cryptography reduces such a coordinate and imports the key; WebCrypto refuses it:
    # one JWKS verified tokens on CPython and was "key unusable" on Workers.
    key = _p521_alias(coordinate)
    as_int = {c: int.from_bytes(base64.urlsafe_b64decode(key[c] + "=="), "big") for c in "xy"}
    ec.EllipticCurvePublicNumbers(as_int["x"], as_int["y"], ec.SECP521R1()).public_key()
    with pytest.raises(InvalidKey, match="not reduced"):
        parse_jwk(key)


def test_ec_coordinates_just_below_p_are_read():
    # The largest P-256 field element, p - 1, passes the range check (the point itself
    # is the backend's to judge, when the key is first used).
    field = 2**256 - 2**224 + 2**192 + 2**96 - 1
    key = public_jwk(ec_key(), "k", x=b64((field - 1).to_bytes(32, "big")))
    assert parse_jwk(key).params["x"] == key["x"]


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


_ED25519_FIELD = 2**255 - 19
# The y coordinates of the edwards25519 points whose order divides 8: the identity,
# (0, -1), (+-sqrt(-1), 0) and the four points of order 8 (written out here; the test
# below proves each one small by forging under it).
_SMALL_ORDER_Y = {
    "identity": 1,
    "order-2": _ED25519_FIELD - 1,
    "order-4": 0,
    "order-8-a": 0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826,
    "order-8-b": 0x7A03AC9277FDC74EC6CC392CFA53202A0F67100D760B3CBA4FD84D3D706A17C7,
    "order-4-as-p": _ED25519_FIELD,  # y = 0 and y = 1 written non-canonically, as y + p
    "identity-as-p-plus-1": _ED25519_FIELD + 1,
}
_SMALL_ORDER_KEYS = {
    f"{name}-sign-{sign}": (y | sign << 255).to_bytes(32, "little")
    for name, y in _SMALL_ORDER_Y.items()
    for sign in (0, 1)
}


def _forges(public: bytes) -> bool:
    """Whether the signature (R = identity, S = 0) verifies one of 64 messages under
    ``public``, as it does under a key of small order, with no private key involved."""
    key = Ed25519PublicKey.from_public_bytes(public)
    signature = (1).to_bytes(32, "little") + bytes(32)
    for i in range(64):
        try:
            key.verify(signature, b"token %d" % i)
        except InvalidSignature:
            continue
        return True
    return False


@pytest.mark.parametrize("public", _SMALL_ORDER_KEYS.values(), ids=_SMALL_ORDER_KEYS.keys())
def test_ed25519_key_of_small_order_is_refused(public):
    # Forgery with a key anyone can publish by mistake (an all-but-zero placeholder):
    # OpenSSL and WebCrypto import such a key, and a fixed signature then verifies.
    assert _forges(public)
    with pytest.raises(InvalidKey, match="small order"):
        parse_jwk({"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": b64(public)})


def test_ed25519_key_with_a_non_canonical_y_is_refused():
    # RFC 8032 section 5.1.3: a y of p or more fails to decode (here y = p + 2 for 2).
    public = (_ED25519_FIELD + 2).to_bytes(32, "little")
    with pytest.raises(InvalidKey, match="canonical"):
        parse_jwk({"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": b64(public)})


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


def _public_key_bytes(encoding: str, fmt: str) -> bytes:
    return (
        rsa_key()
        .public_key()
        .public_bytes(
            getattr(serialization.Encoding, encoding), getattr(serialization.PublicFormat, fmt)
        )
    )


_KEYS_AS_SECRETS = {
    "pem-spki": lambda: _public_key_bytes("PEM", "SubjectPublicKeyInfo"),
    "pem-pkcs1": lambda: _public_key_bytes("PEM", "PKCS1"),
    "der-spki": lambda: _public_key_bytes("DER", "SubjectPublicKeyInfo"),
    "der-pkcs1": lambda: _public_key_bytes("DER", "PKCS1"),
    "openssh": lambda: _public_key_bytes("OpenSSH", "OpenSSH"),
    "ssh2-rfc4716": lambda: (
        b"---- BEGIN SSH2 PUBLIC KEY ----\n"
        + _public_key_bytes("OpenSSH", "OpenSSH").split()[1]
        + b"\n---- END SSH2 PUBLIC KEY ----\n"
    ),
    "jwk-json": lambda: json.dumps(public_jwk(rsa_key(), "rsa-1")).encode(),
}


@pytest.mark.parametrize("make", _KEYS_AS_SECRETS.values(), ids=_KEYS_AS_SECRETS.keys())
def test_public_key_as_hmac_secret_is_refused_on_every_runtime(make):
    # Key confusion by configuration: with the RSA public key as the HMAC secret, anyone
    # signs HS256 tokens. PyJWT refused it only when the key was first used (every HS
    # token a 401 on CPython); the Workers backend's stdlib HMAC verified each token.
    secret = make()
    with pytest.raises(InvalidKeyError):
        HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret)
    with pytest.raises(InvalidKey, match="public key"):
        JWKSet.symmetric({"h": secret})
    with pytest.raises(InvalidKey, match="public key"):
        parse_jwk({"kty": "oct", "k": b64(secret), "kid": "h"}, allow_symmetric=True)


def test_random_hmac_secrets_are_not_taken_for_keys():
    # The shape checks read structure, not bytes alone: 20,000 random secrets of 32 and
    # 64 bytes all build, with those that open like a DER SEQUENCE or JSON among them.
    rng = random.Random(7)
    secrets = [rng.randbytes(size) for size in (32, 64) for _ in range(10_000)]
    secrets += [b"0" + s[1:] for s in secrets[:500]] + [b"{" + s[1:] for s in secrets[:500]]
    for secret in secrets:
        JWKSet.symmetric({"h": secret})


def test_text_secrets_shaped_like_a_der_header_are_not_taken_for_keys():
    # "0", a character whose code counts the rest, "0": read as a DER SEQUENCE opening
    # with a SEQUENCE, such a text secret was refused as a key. One in 4,096 of
    # secrets.token_hex(50), one in 262,144 of token_urlsafe(64) or of 64 random bytes in
    # base64 (88 characters), a generated secret failed to build now and then.
    for size in range(32, 130):
        for middle in ("0", "A", "f"):
            secret = "0" + chr(size - 2) + "0" + middle * (size - 3)
            JWKSet.symmetric({"h": secret})
            parse_jwk({"kty": "oct", "k": b64(secret.encode()), "kid": "h"}, allow_symmetric=True)


def _der_certificate() -> bytes:
    key = ec_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.example")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )


_DER_KEYS = {
    "certificate": _der_certificate,
    "ec-spki": lambda: (
        ec_key()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ),
    "pkcs8": lambda: rsa_key().private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ),
}


@pytest.mark.parametrize("make", _DER_KEYS.values(), ids=_DER_KEYS.keys())
def test_der_certificate_and_private_key_as_hmac_secret_are_refused(make):
    with pytest.raises(InvalidKey, match="public key"):
        JWKSet.symmetric({"h": make()})


@pytest.mark.parametrize("secret", [b"\x30\x82\x00\x00", b"\x30\x00", b"\x30\x81"])
def test_hmac_secret_opening_an_empty_der_sequence_is_read(secret):
    # An outer length of zero leaves no first element to look at.
    assert parse_jwk({"kty": "oct", "k": b64(secret), "kid": "h"}, allow_symmetric=True).secret


def test_symmetric_set_refuses_short_keys():
    with pytest.raises(InvalidKey):
        JWKSet.symmetric({"h": "short"})
