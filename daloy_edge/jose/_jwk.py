"""JWK and JWKS parsing (RFC 7517/7518): public signing keys only, ``kid`` required."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from daloy_edge._json import UnsafeJSON, parse_json
from daloy_edge._record import field, record
from daloy_edge._secrets import Secret
from daloy_edge.jose._algorithms import ALGORITHMS, Algorithm
from daloy_edge.jose._b64 import b64url_decode
from daloy_edge.jose._errors import InvalidKey

__all__ = ["JWK", "MAX_KID_LENGTH", "JWKSet", "parse_jwk"]

MAX_KID_LENGTH = 256
MAX_RSA_BITS = 16384
# Each curve's coordinate length and field prime (FIPS 186-5 / SEC 2).
_EC_CURVES = {
    "P-256": (32, 2**256 - 2**224 + 2**192 + 2**96 - 1),
    "P-384": (48, 2**384 - 2**128 - 2**96 + 2**32 - 1),
    "P-521": (66, 2**521 - 1),
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})
_ED25519_FIELD = 2**255 - 19
# The y coordinates of the eight points of edwards25519 whose order divides 8: the
# identity, (0, -1), (+-sqrt(-1), 0) and the four of order 8. Under such a public key a
# fixed signature (R the identity, S = 0) verifies for every token, or for one in eight:
# anyone can forge without a private key, as under an RSA exponent of 1.
_ED25519_SMALL_ORDER_Y = frozenset(
    {
        0,
        1,
        _ED25519_FIELD - 1,
        0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826,
        0x7A03AC9277FDC74EC6CC392CFA53202A0F67100D760B3CBA4FD84D3D706A17C7,
    }
)


@record(frozen=True)
class JWK:  # noqa: PLW1641 -- hash set below the class, by identity
    """One verification key. ``params`` holds the public JWK members a backend imports.

    Compared by identity, so a cache entry for a key dies with the key set it came from.
    """

    kid: str
    kty: str
    alg: str | None
    crv: str | None
    params: Mapping[str, str]
    rsa_bytes: int = 0
    secret: Secret | None = field(default=None, repr=False)

    def accepts(self, alg: Algorithm) -> bool:
        """True when this key may verify ``alg`` (its own ``alg``, type, curve and size)."""
        if self.alg is not None and self.alg != alg.name:
            return False
        if alg.kty != self.kty or alg.crv != self.crv:
            return False
        return self.secret is None or len(self.secret) >= alg.min_key_bytes

    def __eq__(self, other: object) -> bool:
        return self is other


# Identity, like the comparison: a key's ``params`` mapping is not hashable.
JWK.__hash__ = object.__hash__  # type: ignore[method-assign]


def _text(obj: Mapping[str, object], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidKey(f"member {name!r} must be a non-empty string")
    return value


def _decode(obj: Mapping[str, object], name: str) -> bytes:
    try:
        return b64url_decode(_text(obj, name))
    except ValueError:
        raise InvalidKey(f"member {name!r} is not base64url") from None


def _check_kid(obj: Mapping[str, object]) -> str:
    kid = obj.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidKey("kid is required")
    if len(kid) > MAX_KID_LENGTH or not (kid.isascii() and kid.isprintable()):
        raise InvalidKey("kid must be printable ASCII of at most 256 characters")
    return kid


def _check_usage(obj: Mapping[str, object]) -> None:
    use = obj.get("use")
    if use is not None and use != "sig":
        raise InvalidKey("key is not for signatures (use)")
    ops = obj.get("key_ops")
    if ops is None:
        return
    if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
        raise InvalidKey("key_ops must be a list of strings")
    if len(set(ops)) != len(ops) or "verify" not in ops:
        raise InvalidKey("key_ops does not allow verify")


def _check_alg(obj: Mapping[str, object], kty: str, crv: str | None) -> str | None:
    alg = obj.get("alg")
    if alg is None:
        return None
    spec = ALGORITHMS.get(alg) if isinstance(alg, str) else None
    if spec is None or spec.kty != kty or spec.crv != crv:
        raise InvalidKey("unsupported or mismatched alg")
    return spec.name


def _rsa(obj: Mapping[str, object], min_rsa_bits: int) -> tuple[dict[str, str], int]:
    modulus = int.from_bytes(_decode(obj, "n"), "big")
    exponent = int.from_bytes(_decode(obj, "e"), "big")
    bits = modulus.bit_length()
    if bits < min_rsa_bits or bits > MAX_RSA_BITS:
        raise InvalidKey(f"RSA modulus must be {min_rsa_bits} to {MAX_RSA_BITS} bits")
    if exponent < 3 or exponent % 2 == 0 or exponent.bit_length() > 32:
        raise InvalidKey("RSA public exponent is unacceptable")
    return {"kty": "RSA", "n": _text(obj, "n"), "e": _text(obj, "e")}, (bits + 7) // 8


def _ec(obj: Mapping[str, object], crv: str) -> dict[str, str]:
    curve = _EC_CURVES.get(crv)
    if curve is None:
        raise InvalidKey("unsupported EC curve")
    size, field = curve
    x, y = _decode(obj, "x"), _decode(obj, "y")
    if len(x) != size or len(y) != size:
        raise InvalidKey("EC coordinates have the wrong length")
    # A coordinate of p or more is no field element (SEC 1 section 2.3.6). ``cryptography``
    # reduces it and imports the key, WebCrypto refuses it: a JWKS that verified tokens
    # on CPython was "key unusable" on Workers (any P-521 coordinate plus p fits 66 bytes).
    if int.from_bytes(x, "big") >= field or int.from_bytes(y, "big") >= field:
        raise InvalidKey("EC coordinates are not reduced modulo the field prime")
    return {"kty": "EC", "crv": crv, "x": _text(obj, "x"), "y": _text(obj, "y")}


def _okp(obj: Mapping[str, object], crv: str) -> dict[str, str]:
    if crv != "Ed25519":
        raise InvalidKey("unsupported OKP curve")
    raw = _decode(obj, "x")
    if len(raw) != 32:
        raise InvalidKey("Ed25519 public key must be 32 bytes")
    # RFC 8032 section 5.1.3: y is the encoding less its top (sign) bit, and one of p or
    # more does not decode; OpenSSL and WebCrypto import both kinds of key.
    y = int.from_bytes(raw, "little") & ~(1 << 255)
    if y >= _ED25519_FIELD or y in _ED25519_SMALL_ORDER_Y:
        raise InvalidKey("Ed25519 public key is not canonical or of small order")
    return {"kty": "OKP", "crv": crv, "x": _text(obj, "x")}


# Text that opens PEM armour (RFC 7468, and RFC 4716's "---- BEGIN SSH2 PUBLIC KEY ----")
# or an OpenSSH public key line.
_PEM_MARKERS = (b"----BEGIN ", b"---- BEGIN ")
_SSH_PREFIXES = (b"ssh-", b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-sha2-")


def _check_hmac_secret(secret: bytes) -> None:
    """Refuse an HMAC secret that is an asymmetric key or certificate in some encoding.

    Such a secret is public (the key confusion attack: whoever has the public key signs
    HS256 tokens with it). PyJWT refuses it when the key is first used, so on CPython
    every HS token was a 401 while on Workers, whose HMAC is the stdlib's, each one signed
    with the public key verified; refused here, when the key is built, on every runtime.
    """
    text = secret.lstrip()
    # verify: allow secret-comparisons -- its shape read against public markers when the
    # key set is built, never compared with anything a client sends
    armoured = any(marker in secret for marker in _PEM_MARKERS) or text.startswith(_SSH_PREFIXES)
    if armoured or _is_der_structure(secret) or (text.startswith(b"{") and _is_json_object(secret)):
        raise InvalidKey("an HMAC secret must not be a public key, private key or certificate")


def _is_der_structure(data: bytes) -> bool:
    """One DER SEQUENCE filling ``data`` and opening with an INTEGER (a PKCS#1, PKCS#8 or
    SEC 1 key) or with a SEQUENCE that opens with an OID, an INTEGER or a ``[0]`` (a
    SubjectPublicKeyInfo's algorithm, an X.509 certificate's TBSCertificate).

    The inner SEQUENCE is looked into: text secrets of one shape ("0", the character
    counting the rest, "0": 1 in 4,096 of ``secrets.token_hex(50)``) are no key.
    """
    if len(data) < 4 or data[0] != 0x30:
        return False
    size, start = data[1], 2
    if size & 0x80:
        count = size & 0x7F
        if not 0 < count <= 4:
            return False
        size, start = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if not 0 < size == len(data) - start:
        return False
    if data[start] == 0x02:
        return True
    if data[start] != 0x30 or start + 1 >= len(data):
        return False
    inner = data[start + 1]
    first = start + 2 + (inner & 0x7F if inner & 0x80 else 0)
    return first < len(data) and data[first] in (0x02, 0x06, 0xA0)


def _is_json_object(data: bytes) -> bool:
    try:
        return isinstance(parse_json(data), dict)
    except UnsafeJSON:
        return False


def parse_jwk(obj: object, *, allow_symmetric: bool = False, min_rsa_bits: int = 2048) -> JWK:
    """Validate one JWK; raises :class:`InvalidKey` with the reason.

    Required: ``kid``. Honoured: ``use`` must be ``sig``, ``key_ops`` must allow
    ``verify``, ``alg`` pins the one algorithm the key verifies. Refused: private
    members, RSA below ``min_rsa_bits``, curves other than P-256/384/521 and Ed25519,
    and ``oct`` (HMAC) keys unless ``allow_symmetric``.
    """
    if not isinstance(obj, dict):
        raise InvalidKey("a JWK must be an object")
    kid = _check_kid(obj)
    kty = _text(obj, "kty")
    _check_usage(obj)
    if kty == "oct":
        if not allow_symmetric:
            raise InvalidKey("symmetric keys are not accepted here")
        secret = _decode(obj, "k")
        _check_hmac_secret(secret)
        alg = _check_alg(obj, kty, None)
        return JWK(kid, kty, alg, None, {}, secret=Secret(secret))
    if _PRIVATE_MEMBERS.intersection(obj):
        raise InvalidKey("private key material in a verification key")
    crv = obj.get("crv") if kty in ("EC", "OKP") else None
    if crv is not None and not isinstance(crv, str):
        raise InvalidKey("crv must be a string")
    alg = _check_alg(obj, kty, crv)
    if kty == "RSA":
        params, size = _rsa(obj, min_rsa_bits)
        return JWK(kid, kty, alg, None, params, size)
    if kty == "EC" and crv is not None:
        return JWK(kid, kty, alg, crv, _ec(obj, crv))
    if kty == "OKP" and crv is not None:
        return JWK(kid, kty, alg, crv, _okp(obj, crv))
    raise InvalidKey("unsupported key type")


class JWKSet:
    """Verification keys by ``kid``; also a :class:`~daloy_edge.jose.KeySource`.

    A ``kid`` that appears twice is ambiguous and neither key is used. Keys that cannot
    be used (wrong ``use``, unsupported type) are listed in ``skipped`` with the reason.

    >>> JWKSet.parse('{"keys": []}')
    Traceback (most recent call last):
    ...
    daloy_edge.jose._errors.InvalidKey: no usable keys in the JWKS
    """

    __slots__ = ("_keys", "skipped")

    def __init__(self, keys: Iterable[JWK], skipped: Iterable[tuple[str, str]] = ()) -> None:
        found: dict[str, JWK] = {}
        dropped = list(skipped)
        duplicated: set[str] = set()
        for key in keys:
            if key.kid in found or key.kid in duplicated:
                duplicated.add(key.kid)
                found.pop(key.kid, None)
                dropped.append((key.kid, "kid appears more than once"))
            else:
                found[key.kid] = key
        self._keys = found
        self.skipped: tuple[tuple[str, str], ...] = tuple(dropped)

    @classmethod
    def parse(
        cls,
        document: bytes | str | Mapping[str, object],
        *,
        min_rsa_bits: int = 2048,
        max_keys: int = 100,
        allow_symmetric: bool = False,
    ) -> JWKSet:
        """Parse a JWKS document (hardened JSON); :class:`InvalidKey` when nothing is usable.

        Security: a set that carries private key material is refused whole, since
        anyone who has seen it can mint tokens.
        """
        if isinstance(document, bytes | str):
            try:
                document = _as_mapping(parse_json(document))
            except UnsafeJSON:
                raise InvalidKey("the JWKS is not valid JSON") from None
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise InvalidKey("a JWKS needs a 'keys' list")
        if len(entries) > max_keys:
            raise InvalidKey(f"more than {max_keys} keys in the JWKS")
        keys: list[JWK] = []
        skipped: list[tuple[str, str]] = []
        for entry in entries:
            if isinstance(entry, dict) and _PRIVATE_MEMBERS.intersection(entry):
                raise InvalidKey("the JWKS contains private key material")
            try:
                keys.append(
                    parse_jwk(entry, allow_symmetric=allow_symmetric, min_rsa_bits=min_rsa_bits)
                )
            except InvalidKey as exc:
                kid = entry.get("kid") if isinstance(entry, dict) else None
                skipped.append((kid if isinstance(kid, str) else "", str(exc)))
        result = cls(keys, skipped)
        if not result._keys:
            raise InvalidKey("no usable keys in the JWKS")
        return result

    @classmethod
    def symmetric(cls, secrets: Mapping[str, Secret | str | bytes]) -> JWKSet:
        """HMAC keys by ``kid`` (each at least 32 bytes), for ``HS256``/``HS384``/``HS512``.

        Security: the verifier uses them only when built with ``allow_symmetric=True``.
        """
        keys = []
        for kid, value in secrets.items():
            _check_kid({"kid": kid})
            secret = value if isinstance(value, Secret) else Secret(value)
            if len(secret) < 32:
                raise InvalidKey("HMAC keys must be at least 32 bytes")
            _check_hmac_secret(secret.reveal())
            keys.append(JWK(kid, "oct", None, None, {}, secret=secret))
        if not keys:
            raise InvalidKey("no keys given")
        return cls(keys)

    def get(self, kid: str) -> JWK | None:
        """The key with this ``kid``, or ``None``."""
        return self._keys.get(kid)

    async def get_key(self, kid: str) -> JWK | None:
        """:class:`~daloy_edge.jose.KeySource` form of :meth:`get`."""
        return self._keys.get(kid)

    def kids(self) -> list[str]:
        """The usable key ids."""
        return list(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"JWKSet(kids={self.kids()!r})"


def _as_mapping(value: object) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise InvalidKey("a JWKS must be a JSON object")
    return value
