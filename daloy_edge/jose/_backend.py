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
            from jwt.algorithms import get_default_algorithms

            self._algorithms = dict(get_default_algorithms())
        return self._algorithms[alg]

    async def import_key(self, key: JWK, alg: str) -> object:
        """Build the ``cryptography`` key object (validating the point or modulus)."""
        from jwt.exceptions import InvalidKeyError

        impl = self._algorithm(alg)
        try:
            if key.secret is not None:
                material = impl.prepare_key(key.secret.reveal())
            else:
                material = impl.prepare_key(impl.from_jwk(dict(key.params)))
        except (InvalidKeyError, ValueError, TypeError):
            raise InvalidKey("key material rejected by the backend") from None
        return _checker(alg, impl, material)

    async def verify(self, alg: str, key: object, signing_input: bytes, signature: bytes) -> bool:
        """Verify with the checker :meth:`import_key` prepared."""
        check = cast("_Check", key)
        try:
            return check(signing_input, signature)
        except (ValueError, TypeError):
            return False


_RSA_PKCS1 = {"RS256": "SHA256", "RS384": "SHA384", "RS512": "SHA512"}


def _checker(alg: str, impl: Any, material: Any) -> _Check:
    """A ``(signing_input, signature) -> bool`` for one prepared key.

    RSA PKCS#1 v1.5 calls ``cryptography`` directly with padding and hash objects made
    once (both stateless), instead of PyJWT's per-call wrapper; the other algorithms go
    through PyJWT's ``verify``, which also converts raw ECDSA signatures to DER.
    """
    digest_name = _RSA_PKCS1.get(alg)
    if digest_name is None:
        return lambda signing_input, signature: bool(
            impl.verify(signing_input, material, signature)
        )
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    pad, digest = padding.PKCS1v15(), getattr(hashes, digest_name)()
    verify = material.verify

    def check(signing_input: bytes, signature: bytes) -> bool:
        try:
            verify(signature, signing_input, pad, digest)
        except InvalidSignature:
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
