"""Token verification: header rules, key lookup, signature, then claims."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Protocol

from daloy_edge._errors import ConfigError
from daloy_edge._record import record
from daloy_edge.jose._algorithms import Algorithm, check_algorithms, check_signature_shape
from daloy_edge.jose._backend import PyJWTBackend, SignatureBackend, default_backend
from daloy_edge.jose._claims import ClaimsPolicy, validate_claims
from daloy_edge.jose._errors import InvalidKey, InvalidToken
from daloy_edge.jose._jwk import JWK
from daloy_edge.jose._jws import (
    DEFAULT_MAX_TOKEN_BYTES,
    check_header,
    decode_json_segment,
    decode_object_segment,
    split_compact,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge.types import JSON, Clock


__all__ = ["JWTVerifier", "KeySource", "VerifiedToken", "check_algorithms"]

_CACHE_LIMIT = 256
_HEADER_KEPT_LEN = 1024
"""Longer header segments are decoded afresh each time. An issuer's header (``alg``,
``kid``, ``typ``, a thumbprint) is a few hundred characters; a token's 8 KiB header of
made-up members, 256 of them remembered, held 19 MB (any client can send them: a
header is remembered once it passes the header rules, before any key is looked up)."""
_HeaderEntry = tuple["Mapping[str, JSON]", Algorithm, str]
# A token whose signature verified: its header entry, the key that verified it, its
# decoded claims (a private copy, never handed out) and whether they are certainly flat
# (no member holds an object or array, so a shallow copy is a full one).
_SignedEntry = tuple[_HeaderEntry, JWK, "dict[str, JSON]", bool]


class KeySource(Protocol):
    """Where verification keys come from: a static :class:`~daloy_edge.jose.JWKSet` or a
    :class:`~daloy_edge.jose.JWKSClient`. Returns ``None`` for an unknown ``kid``."""

    async def get_key(self, kid: str) -> JWK | None:
        """The key for ``kid``; may raise :class:`~daloy_edge.jose.KeysUnavailable`."""
        ...


@record(frozen=True)
class VerifiedToken:
    """A token whose signature and claims passed every check."""

    header: Mapping[str, JSON]
    claims: Mapping[str, JSON]


class JWTVerifier:
    """Verify compact JWS tokens (JWTs) against a key source and a claims policy.

    Order of checks: size and structure, header rules (``alg`` allow-list, no ``none``,
    no embedded or remote keys, ``kid`` required), key lookup, algorithm/key match,
    signature shape, signature, and only then the claims.

    Security: HMAC algorithms need ``allow_symmetric=True``; an HS token can never be
    checked against an RSA or EC key (the key-confusion attack), because a key only
    verifies the algorithms of its own type.

    A client sends the same token with many requests, so the outcome of the signature
    check is remembered for the exact token string (up to 256 tokens): a repeat is
    recognised only by equality of the whole string, header, payload and signature
    alike, and only while the key source still returns the very key object that
    verified it (a JWKS refresh or rotation makes new objects, so the check runs again).
    Only a valid signature is remembered, and only for a token whose claims passed.
    A token with a ``cnf`` claim is refused: it is bound to a key whose possession a
    bearer verifier cannot check (DPoP, RFC 9449 7.2; mTLS, RFC 8705 3).
    Everything else runs on every request: the claims, ``exp`` and ``nbf`` included, are
    checked against the clock, and each request gets its own copy of them (the payload
    is decoded once; what a handler does to its copy never reaches another request).

    >>> from daloy_edge.jose import JWKSet, ClaimsPolicy
    >>> keys = JWKSet.symmetric({"k1": "s" * 32})
    >>> verifier = JWTVerifier(keys=keys, algorithms=["HS256"], allow_symmetric=True,
    ...     policy=ClaimsPolicy(issuer="https://idp", audience="api"))
    """

    __slots__ = (
        "_algorithms",
        "_audiences",
        "_backend",
        "_clock",
        "_direct",
        "_headers",
        "_keys",
        "_max_bytes",
        "_policy",
        "_prepared",
        "_signed",
        "_typ",
    )

    def __init__(
        self,
        *,
        keys: KeySource,
        algorithms: Iterable[str],
        policy: ClaimsPolicy,
        backend: SignatureBackend | None = None,
        clock: Clock = time.time,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        allow_symmetric: bool = False,
        typ: Iterable[str] | None = None,
    ) -> None:
        allowed = check_algorithms(algorithms, allow_symmetric=allow_symmetric)
        if not max_token_bytes > 0:  # NaN too: no token would exceed it
            raise ConfigError("max_token_bytes must be positive")
        if isinstance(typ, str):
            # Each of its characters would be an accepted ``typ``, and the value itself not.
            raise ConfigError("typ must be a collection of values, not one string")
        self._algorithms = allowed
        self._keys = keys
        self._policy = policy
        self._audiences = policy.audiences
        # None: the runtime's backend, looked up when the first key is prepared, not here. A
        # verifier built at import (on Workers, into the deploy-time snapshot) came before
        # the adapter installs WebCrypto, and kept PyJWT, which needs ``cryptography``.
        self._backend = backend
        # The built-in backend's prepared key is a plain function: call it, not a coroutine.
        # Any other backend, a subclass included, is awaited through the protocol.
        self._direct = type(backend) is PyJWTBackend
        self._clock = clock
        self._max_bytes = max_token_bytes
        self._typ = None if typ is None else frozenset(_norm_typ(t) for t in typ)
        self._prepared: dict[tuple[str, str], tuple[JWK, object]] = {}
        self._headers: dict[str, _HeaderEntry] = {}
        self._signed: dict[str, _SignedEntry] = {}

    async def verify(self, token: str) -> VerifiedToken:
        """Verify ``token``; raises :class:`~daloy_edge.jose.InvalidToken` with a reason."""
        header, claims = await self._verified(token)
        return VerifiedToken(header, claims)

    async def _verified(self, token: str) -> tuple[Mapping[str, JSON], dict[str, JSON]]:
        # ``verify`` without building the record, for the middleware: the read-only header
        # and claims that are the caller's own.
        # verify: allow secret-comparisons -- str keys hash with a per-process random key
        # (SipHash): a cached token's bytes are compared only with a sent token of the same
        # 64-bit hash, and the cache holds only tokens whose signature verified
        signed = self._signed.get(token)
        if signed is not None:
            entry, signer, remembered, flat = signed
            if await self._keys.get_key(entry[2]) is signer:
                try:
                    validate_claims(
                        remembered, self._policy, self._clock(), audiences=self._audiences
                    )
                except InvalidToken:
                    # Expired since: forgotten and checked in full below, as a token never
                    # seen is. Refused at once, the answer's time (Server-Timing's total to
                    # a hundredth of a millisecond) told anyone holding an old token, found
                    # in a log, whether it had been used here, for as long as it stayed.
                    pass
                else:
                    return entry[0], dict(remembered) if flat else _copy(remembered)
            self._signed.pop(token, None)  # verify: allow secret-comparisons -- as above
        header_b64, payload_b64, signing_input, signature = split_compact(
            token, max_bytes=self._max_bytes
        )
        entry = self._headers.get(header_b64) or self._header(header_b64)
        spec = entry[1]
        key = await self._keys.get_key(entry[2])
        if key is None:
            raise InvalidToken("unknown kid")
        prepared = self._prepared_key(key, spec)
        if not check_signature_shape(spec, signature, key.rsa_bytes):
            raise InvalidToken("signature has the wrong shape")
        if prepared is None:
            prepared = await self._prepare(key, spec.name)
        if self._direct:
            valid = prepared(signing_input, signature)  # type: ignore[operator]  # see __init__
        else:
            # A prepared key means _prepare has set the backend.
            backend: SignatureBackend = self._backend  # type: ignore[assignment]
            valid = await backend.verify(spec.name, prepared, signing_input, signature)
        if not valid:
            raise InvalidToken("bad signature")
        claims, flat = decode_object_segment(payload_b64, "payload")
        validate_claims(claims, self._policy, self._clock(), audiences=self._audiences)
        if "cnf" in claims:
            # Bound to a key its holder must prove (DPoP, RFC 9449; mTLS, RFC 8705; RFC
            # 7800): taken as a bearer token, whoever stole it could use it. Checked here
            # once, as a remembered token passed it.
            raise InvalidToken("token is bound to a key (cnf): not a bearer token")
        if len(self._signed) >= _CACHE_LIMIT:
            self._signed.clear()
        self._signed[token] = (entry, key, dict(claims) if flat else _copy(claims), flat)
        return entry[0], claims

    def _header(self, header_b64: str) -> _HeaderEntry:
        # One issuer signs with few keys, so header segments repeat across tokens: keep
        # the checked result (only headers that passed) instead of decoding it again.
        header = decode_json_segment(header_b64, "header")
        spec, kid = check_header(header, self._algorithms, self._typ)
        entry = (MappingProxyType(header), spec, kid)
        if len(header_b64) <= _HEADER_KEPT_LEN:
            if len(self._headers) >= _CACHE_LIMIT:
                self._headers.clear()
            self._headers[header_b64] = entry
        return entry

    def _prepared_key(self, key: JWK, spec: Algorithm) -> object | None:
        """The backend's form of ``key`` for ``spec`` if made before, else ``None``;
        :class:`InvalidToken` when the key may not verify ``spec``."""
        cached = self._prepared.get((key.kid, spec.name))
        # Only a key that passed ``accepts`` is ever cached, and keys are compared by
        # identity, so a hit needs no second look at the key.
        if cached is not None and cached[0] is key:
            return cached[1]
        if not key.accepts(spec):
            raise InvalidToken("algorithm does not match the key")
        return None

    async def _prepare(self, key: JWK, alg: str) -> object:
        backend = self._backend
        if backend is None:
            backend = self._backend = default_backend()
            self._direct = type(backend) is PyJWTBackend
        try:
            prepared = await backend.import_key(key, alg)
        except InvalidKey:
            raise InvalidToken("key unusable") from None
        if len(self._prepared) >= _CACHE_LIMIT:
            self._prepared.clear()
        self._prepared[(key.kid, alg)] = (key, prepared)
        return prepared


def _copy(claims: dict[str, JSON]) -> dict[str, JSON]:
    """A deep copy of decoded JSON (dicts and lists are its only mutable values)."""
    return {name: _copy_value(value) for name, value in claims.items()}


def _copy_value(value: JSON) -> JSON:
    if isinstance(value, dict):
        return _copy(value)
    if isinstance(value, list):
        return [_copy_value(item) for item in value]
    return value


def _norm_typ(value: str) -> str:
    return value.lower().removeprefix("application/")
