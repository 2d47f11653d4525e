"""The signature backend seam, and the CPython implementation over PyJWT's algorithms.

A backend does only the cryptography. Everything that decides *whether* to verify
(allowed ``alg``, key/algorithm match, signature length, ECDSA ``r``/``s`` range, claims)
happens before it is called, identically on every runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from daloy_edge.jose._errors import InvalidKey

if TYPE_CHECKING:
    from collections.abc import Callable

    from daloy_edge.jose._jwk import JWK

    _Check = Callable[[bytes, bytes], bool]

__all__ = ["PyJWTBackend", "SignatureBackend", "default_backend", "set_default_backend"]


class SignatureBackend(Protocol):
    """Imports keys and checks signatures; async so WebCrypto can implement it.

    The contract, for anyone writing a backend (e.g. WebCrypto on Workers):

    - ``import_key(key, alg)`` turns a :class:`~daloy_edge.jose.JWK` into whatever the
      backend verifies with, for exactly one ``alg``. It reads ``key.params`` (public JWK
      members: ``kty``, ``n``/``e``, ``crv``/``x``/``y``) or, for ``oct`` keys,
      ``key.secret.reveal()``. Raise :class:`~daloy_edge.jose.InvalidKey` when the material
      is unusable (for example an EC point not on the curve). Results are cached by the
      caller per key and ``alg``, so this may be slow.
    - ``verify(alg, key, signing_input, signature)`` returns True only for a valid
      signature. ``signature`` is the JWS form (ECDSA: raw ``r || s``, as WebCrypto
      expects). It must return False, never raise, for a wrong signature.
    """

    async def import_key(self, key: JWK, alg: str) -> object:
        """Prepare ``key`` for verifying ``alg``."""
        ...

    async def verify(self, alg: str, key: object, signing_input: bytes, signature: bytes) -> bool:
        """True when ``signature`` is valid for ``signing_input`` under ``key``."""
        ...


class PyJWTBackend:
    """CPython backend: PyJWT's algorithm objects over ``cryptography`` (imported lazily)."""

    __slots__ = ("_algorithms",)

    def __init__(self) -> None:
        self._algorithms: dict[str, Any] | None = None

    def _algorithm(self, alg: str) -> Any:
        if self._algorithms is None:
            try:
                from jwt.algorithms import get_default_algorithms
            except ImportError as exc:
                raise _missing(alg) from exc
            self._algorithms = dict(get_default_algorithms())
        impl = self._algorithms.get(alg)
        if impl is None:  # without ``cryptography``, PyJWT offers HS* alone
            raise _missing(alg)
        return impl

    async def import_key(self, key: JWK, alg: str) -> object:
        """Build the ``cryptography`` key object (validating the point or modulus)."""
        impl = self._algorithm(alg)
        from jwt.exceptions import InvalidKeyError

        try:
            if key.secret is not None:
                material = impl.prepare_key(key.secret.reveal())
            else:
                material = impl.prepare_key(impl.from_jwk(dict(key.params)))
        except (InvalidKeyError, ValueError, TypeError):
            raise InvalidKey("key material rejected by the backend") from None
        return _checker(alg, impl, material)

    async def verify(self, alg: str, key: object, signing_input: bytes, signature: bytes) -> bool:
        """Verify with the checker :meth:`import_key` prepared.

        That checker is a plain ``(signing_input, signature) -> bool`` that returns False
        for any failure, so :class:`~daloy_edge.jose.JWTVerifier` calls it directly,
        without a coroutine, when its backend is exactly this class.
        """
        check = cast("_Check", key)
        return check(signing_input, signature)


def _missing(alg: str) -> ModuleNotFoundError:
    from daloy_edge._extras import missing_extra

    return missing_extra(f"verifying {alg} tokens with PyJWTBackend", "jwt")


# RSASSA-PKCS1-v1_5 (RFC 8017 section 9.2, note 1): the DER of DigestInfo up to the hash,
# for each hash the RS algorithms use, with the NULL parameters every JWS signer writes.
_DIGEST_INFO = {
    "RS256": ("sha256", bytes.fromhex("3031300d060960864801650304020105000420")),
    "RS384": ("sha384", bytes.fromhex("3041300d060960864801650304020205000430")),
    "RS512": ("sha512", bytes.fromhex("3051300d060960864801650304020305000440")),
}
_ECDSA = {"ES256": "SHA256", "ES384": "SHA384", "ES512": "SHA512"}


def _checker(alg: str, impl: Any, material: Any) -> _Check:
    """A ``(signing_input, signature) -> bool`` for one prepared key; False on any failure.

    RSA PKCS#1 v1.5 and ECDSA call ``cryptography`` directly with objects made once (all
    stateless), instead of PyJWT's per-call wrappers, which build them (and, for ECDSA,
    read the curve) on every call; the other algorithms go through PyJWT's ``verify``.
    """
    if alg in _DIGEST_INFO:
        return _rsa_checker(material, alg)
    ec_digest = _ECDSA.get(alg)
    if ec_digest is not None:
        return _ecdsa_checker(material, ec_digest)

    def check(signing_input: bytes, signature: bytes) -> bool:
        try:
            return bool(impl.verify(signing_input, material, signature))
        except (ValueError, TypeError):
            return False

    return check


def _rsa_checker(material: Any, alg: str) -> _Check:
    """RFC 8017's own verification: undo the padding, then compare the whole encoding.

    OpenSSL checks the ``00 01 FF..FF 00`` padding and returns what follows, which must
    equal DigestInfo of the expected hash byte for byte; with the padding fixed by the
    key size, that is the comparison of the entire encoded message the RFC describes.
    ``verify`` does the same and also looks up the digest and rebuilds its context on
    every call; here the hash is one ``hashlib`` call.
    """
    import hashlib
    import hmac

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding

    hash_name, digest_info = _DIGEST_INFO[alg]
    new_hash = getattr(hashlib, hash_name)
    pad = padding.PKCS1v15()
    recover = material.recover_data_from_signature
    same = hmac.compare_digest

    def check(signing_input: bytes, signature: bytes) -> bool:
        try:
            encoded = recover(signature, pad, None)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return same(encoded, digest_info + new_hash(signing_input).digest())

    return check


def _ecdsa_checker(material: Any, digest_name: str) -> _Check:
    """JWS carries ECDSA as raw ``r || s``; ``cryptography`` verifies DER."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if not isinstance(material, ec.EllipticCurvePublicKey):
        raise InvalidKey("an ECDSA verification key must be a public EC key")
    size = (material.curve.key_size + 7) // 8
    scheme = ec.ECDSA(getattr(hashes, digest_name)())
    verify = material.verify

    def check(signing_input: bytes, signature: bytes) -> bool:
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        try:
            verify(encode_dss_signature(r, s), signing_input, scheme)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    return check


_DEFAULT: SignatureBackend | None = None


def default_backend() -> SignatureBackend:
    """The installed backend, else a process-wide :class:`PyJWTBackend`."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PyJWTBackend()
    return _DEFAULT


def set_default_backend(backend: SignatureBackend | None) -> None:
    """Install the runtime's signature backend (``None`` restores PyJWT); adapters call this.

    The Workers adapter installs WebCrypto here, since ``cryptography`` is not available
    in Pyodide.
    """
    global _DEFAULT
    _DEFAULT = backend
