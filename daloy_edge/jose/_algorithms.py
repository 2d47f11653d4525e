"""The JWS algorithms we verify, and what each demands of a key and a signature."""

from __future__ import annotations

from daloy_edge._errors import ConfigError
from daloy_edge._record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ALGORITHMS",
    "ASYMMETRIC_ALGORITHMS",
    "SYMMETRIC_ALGORITHMS",
    "Algorithm",
    "check_algorithms",
    "check_signature_shape",
]


@record(frozen=True)
class Algorithm:
    """One JWS ``alg``: the key type (and curve) it needs and its signature size."""

    name: str
    kty: str
    crv: str | None = None
    signature_bytes: int | None = None
    """Fixed signature length; ``None`` for RSA, where it is the modulus length."""
    order: int | None = None
    """ECDSA curve order: ``r`` and ``s`` must lie in ``[1, order - 1]``."""
    min_key_bytes: int = 0
    """HMAC: the shortest acceptable secret (RFC 7518 section 3.2)."""


_P256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P384 = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)
_P521 = int(
    "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC"
    "0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
    16,
)

_ALL = (
    Algorithm("RS256", "RSA"),
    Algorithm("RS384", "RSA"),
    Algorithm("RS512", "RSA"),
    Algorithm("PS256", "RSA"),
    Algorithm("PS384", "RSA"),
    Algorithm("PS512", "RSA"),
    Algorithm("ES256", "EC", "P-256", 64, _P256),
    Algorithm("ES384", "EC", "P-384", 96, _P384),
    Algorithm("ES512", "EC", "P-521", 132, _P521),
    Algorithm("EdDSA", "OKP", "Ed25519", 64),
    Algorithm("HS256", "oct", None, 32, min_key_bytes=32),
    Algorithm("HS384", "oct", None, 48, min_key_bytes=48),
    Algorithm("HS512", "oct", None, 64, min_key_bytes=64),
)

ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in _ALL}
"""Every algorithm this package verifies, by ``alg`` name. There is no ``none``."""

SYMMETRIC_ALGORITHMS = frozenset(a.name for a in _ALL if a.kty == "oct")
ASYMMETRIC_ALGORITHMS = frozenset(a.name for a in _ALL if a.kty != "oct")


def check_signature_shape(alg: Algorithm, signature: bytes, rsa_bytes: int) -> bool:
    """True when ``signature`` has the exact length ``alg`` produces (ECDSA: r, s in range).

    Done before any backend runs, so every backend refuses truncated signatures and the
    all-zero / ``r = s = 0`` ECDSA forgeries (CVE-2022-21449) the same way.
    """
    expected = alg.signature_bytes if alg.signature_bytes is not None else rsa_bytes
    size = len(signature)
    if size != expected:
        return False
    if alg.order is None:
        return True
    half = size // 2
    r = int.from_bytes(signature[:half], "big")
    s = int.from_bytes(signature[half:], "big")
    return 0 < r < alg.order and 0 < s < alg.order


def check_algorithms(algorithms: Iterable[str], *, allow_symmetric: bool) -> frozenset[str]:
    """Validate an ``alg`` allow-list; :class:`~daloy_edge.ConfigError` if unsafe or unknown."""
    if isinstance(algorithms, str):
        raise ConfigError("algorithms must be a collection of names, not one string")
    allowed = frozenset(algorithms)
    if not allowed:
        raise ConfigError("at least one algorithm is required")
    unknown = sorted(a for a in allowed if a not in ALGORITHMS)
    if unknown:
        raise ConfigError(f"unsupported algorithms: {unknown} (there is no 'none')")
    if allowed & SYMMETRIC_ALGORITHMS and not allow_symmetric:
        raise ConfigError("HS* algorithms need an explicit key and allow_symmetric=True")
    return allowed
