"""JWTVerifier on repeated tokens: what the remembered signature check may and may not skip."""

from __future__ import annotations

import asyncio

import pytest

from daloy_edge import ConfigError
from daloy_edge.jose import (
    JWK,
    ClaimsPolicy,
    InvalidToken,
    JWKSet,
    JWTVerifier,
    PyJWTBackend,
    VerifiedToken,
    b64url_decode,
    set_default_backend,
)
from tests.jwtkit import AUDIENCE, ISSUER, NOW, b64, claims, jwks, mint, public_jwk, rsa_key

KID = "rsa-1"
PRIVATE = rsa_key(KID)
OTHER = rsa_key("rsa-2")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Keys:
    """A key source whose set can be swapped, as a JWKS refresh does."""

    def __init__(self, private: object) -> None:
        self.use(private)

    def use(self, private: object) -> None:
        self.set = JWKSet.parse(jwks(public_jwk(private, KID)))

    async def get_key(self, kid: str) -> JWK | None:
        return self.set.get(kid)


class CountingBackend(PyJWTBackend):
    __slots__ = ("checks",)

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0

    async def verify(self, alg: str, key: object, signing_input: bytes, signature: bytes) -> bool:
        self.checks += 1
        return await super().verify(alg, key, signing_input, signature)


def make(keys: Keys, clock: Clock, backend: PyJWTBackend | None = None) -> JWTVerifier:
    return JWTVerifier(
        keys=keys,
        algorithms=["RS256"],
        policy=ClaimsPolicy(issuer=ISSUER, audience=AUDIENCE),
        clock=clock,
        backend=backend,
    )


def verify(verifier: JWTVerifier, token: str) -> VerifiedToken:
    return asyncio.run(verifier.verify(token))


def test_a_typ_given_as_one_string_refuses_to_build():
    with pytest.raises(ConfigError, match="not one string"):
        JWTVerifier(
            keys=Keys(PRIVATE),
            algorithms=["RS256"],
            policy=ClaimsPolicy(issuer=ISSUER, audience=AUDIENCE),
            typ="at+jwt",
        )


@pytest.mark.parametrize("size", [0, -1, float("nan")])
def test_a_token_size_bound_no_token_can_exceed_refuses_to_build(size):
    # NaN compared false with everything: no token was ever too large to parse.
    with pytest.raises(ConfigError, match="max_token_bytes"):
        JWTVerifier(
            keys=Keys(PRIVATE),
            algorithms=["RS256"],
            policy=ClaimsPolicy(issuer=ISSUER, audience=AUDIENCE),
            max_token_bytes=size,
        )


def test_a_repeated_token_is_signature_checked_once():
    backend = CountingBackend()
    verifier = make(Keys(PRIVATE), Clock(), backend)
    token = mint(PRIVATE, "RS256", KID)
    for _ in range(3):
        assert verify(verifier, token).claims["sub"] == "alice"
    assert backend.checks == 1


def test_a_repeated_token_is_refused_once_it_expires():
    clock = Clock()
    verifier = make(Keys(PRIVATE), clock)
    token = mint(PRIVATE, "RS256", KID, claims(exp=int(NOW) + 60))
    verify(verifier, token)
    clock.now = NOW + 61 + 30
    with pytest.raises(InvalidToken, match="expired"):
        verify(verifier, token)


def test_an_expired_token_costs_the_same_whether_or_not_it_was_seen_before():
    """A "seen before?" oracle: refused straight from memory, an old token found in a log
    was answered sooner (Server-Timing's total shows it) when it had been used here."""
    clock = Clock()
    backend = CountingBackend()
    verifier = make(Keys(PRIVATE), clock, backend)
    seen = mint(PRIVATE, "RS256", KID, claims(sub="alice", exp=int(NOW) + 60))
    unseen = mint(PRIVATE, "RS256", KID, claims(sub="bob", exp=int(NOW) + 60))
    verify(verifier, seen)
    clock.now = NOW + 61 + 30
    for token in (seen, unseen, seen, unseen):
        before = backend.checks
        with pytest.raises(InvalidToken, match="expired"):
            verify(verifier, token)
        assert backend.checks == before + 1


def test_a_repeated_token_is_checked_again_after_the_key_is_replaced():
    keys = Keys(PRIVATE)
    verifier = make(keys, Clock())
    token = mint(PRIVATE, "RS256", KID)
    verify(verifier, token)
    keys.use(OTHER)
    with pytest.raises(InvalidToken, match="bad signature"):
        verify(verifier, token)


def test_a_token_that_differs_only_in_its_signature_is_checked():
    verifier = make(Keys(PRIVATE), Clock())
    token = mint(PRIVATE, "RS256", KID)
    verify(verifier, token)
    signing_input, _, _ = token.rpartition(".")
    forged = f"{signing_input}.{b64(bytes(256))}"
    with pytest.raises(InvalidToken, match="bad signature"):
        verify(verifier, forged)


def test_a_refused_token_is_not_remembered():
    clock = Clock()
    backend = CountingBackend()
    verifier = make(Keys(PRIVATE), clock, backend)
    token = mint(PRIVATE, "RS256", KID, claims(nbf=int(NOW) + 600))
    with pytest.raises(InvalidToken):
        verify(verifier, token)
    clock.now = NOW + 600
    verify(verifier, token)
    assert backend.checks == 2


def test_each_verification_gets_its_own_claims():
    verifier = make(Keys(PRIVATE), Clock())
    token = mint(PRIVATE, "RS256", KID, claims(scp=["reports:read"]))
    first = verify(verifier, token).claims
    first["scp"].append("admin")  # type: ignore[union-attr]
    assert verify(verifier, token).claims["scp"] == ["reports:read"]


def test_claims_from_a_remembered_token_are_each_requests_own():
    verifier = make(Keys(PRIVATE), Clock())
    token = mint(PRIVATE, "RS256", KID, claims(scp=["a"], ctx={"tenant": "t1", "roles": ["r"]}))
    verify(verifier, token)
    second = verify(verifier, token).claims
    second["scp"].append("admin")  # type: ignore[union-attr]
    second["ctx"]["roles"].append("root")  # type: ignore[index, union-attr]
    second["sub"] = "mallory"  # type: ignore[index]
    third = verify(verifier, token).claims
    assert third["sub"] == "alice"
    assert third["scp"] == ["a"]
    assert third["ctx"] == {"tenant": "t1", "roles": ["r"]}


def test_flat_claims_of_a_remembered_token_are_copied_too():
    verifier = make(Keys(PRIVATE), Clock())
    token = mint(PRIVATE, "RS256", KID)
    first = verify(verifier, token).claims
    first["sub"] = "mallory"  # type: ignore[index]
    second = verify(verifier, token).claims
    assert second["sub"] == "alice"
    assert second is not verify(verifier, token).claims


class RefusingBackend(PyJWTBackend):
    """Imports keys as PyJWT does, and declares every signature bad."""

    __slots__ = ()

    async def verify(self, alg: str, key: object, signing_input: bytes, signature: bytes) -> bool:
        return False


def test_the_built_in_backend_check_runs_without_its_coroutine(monkeypatch):
    async def never(*args: object) -> bool:
        raise AssertionError("the prepared check is called directly")

    monkeypatch.setattr(PyJWTBackend, "verify", never)
    verifier = make(Keys(PRIVATE), Clock(), backend=PyJWTBackend())
    assert verify(verifier, mint(PRIVATE, "RS256", KID)).claims["sub"] == "alice"


def test_any_other_backend_is_asked_through_the_protocol():
    verifier = make(Keys(PRIVATE), Clock(), backend=RefusingBackend())
    with pytest.raises(InvalidToken, match="bad signature"):
        verify(verifier, mint(PRIVATE, "RS256", KID))


def test_the_default_backend_check_runs_without_its_coroutine_too(monkeypatch):
    async def never(*args: object) -> bool:
        raise AssertionError("the prepared check is called directly")

    monkeypatch.setattr(PyJWTBackend, "verify", never)
    verifier = make(Keys(PRIVATE), Clock())
    assert verify(verifier, mint(PRIVATE, "RS256", KID)).claims["sub"] == "alice"


def test_a_verifier_built_before_the_runtime_installs_its_backend_verifies_with_that_one():
    # Built at import (on Workers, into the deploy-time snapshot), before the adapter
    # installed WebCrypto, the verifier kept PyJWT, whose RSA and EC keys need
    # ``cryptography``, which Workers do not have: every token was a 500.
    verifier = make(Keys(PRIVATE), Clock())
    set_default_backend(RefusingBackend())
    try:
        with pytest.raises(InvalidToken, match="bad signature"):
            verify(verifier, mint(PRIVATE, "RS256", KID))
    finally:
        set_default_backend(None)


def test_a_replacement_key_is_checked_against_the_algorithm_again():
    keys = Keys(PRIVATE)
    verifier = make(keys, Clock())
    verify(verifier, mint(PRIVATE, "RS256", KID))
    keys.set = JWKSet.parse(jwks(public_jwk(PRIVATE, KID, alg="RS384")))
    with pytest.raises(InvalidToken, match="algorithm does not match the key"):
        verify(verifier, mint(PRIVATE, "RS256", KID, claims(jti="second")))


def test_a_known_key_is_not_prepared_again():
    class CountingImports(PyJWTBackend):
        __slots__ = ("imports",)

        def __init__(self) -> None:
            super().__init__()
            self.imports = 0

        async def import_key(self, key: JWK, alg: str) -> object:
            self.imports += 1
            return await super().import_key(key, alg)

    backend = CountingImports()
    verifier = make(Keys(PRIVATE), Clock(), backend)
    for n in range(3):
        verify(verifier, mint(PRIVATE, "RS256", KID, claims(jti=str(n))))
    assert backend.imports == 1


def test_claims_with_brackets_inside_strings_are_copied_for_each_request():
    verifier = make(Keys(PRIVATE), Clock())
    token = mint(PRIVATE, "RS256", KID, claims(note="[not a list] {nor an object}"))
    first = verify(verifier, token).claims
    first["note"] = "changed"  # type: ignore[index]
    assert verify(verifier, token).claims["note"] == "[not a list] {nor an object}"


@pytest.mark.parametrize(("alg", "curve", "size"), [("ES256", "P-256", 32), ("ES384", "P-384", 48)])
def test_ecdsa_signatures_are_checked_by_the_direct_checker(alg: str, curve: str, size: int):
    from tests.jwtkit import ec_key

    private = ec_key(f"direct-{curve}", curve)
    verifier = JWTVerifier(
        keys=JWKSet.parse(jwks(public_jwk(private, "ec"))),
        algorithms=[alg],
        policy=ClaimsPolicy(issuer=ISSUER, audience=AUDIENCE),
        clock=Clock(),
    )
    token = mint(private, alg, "ec")
    assert verify(verifier, token).claims["sub"] == "alice"
    signing_input, _, encoded = token.rpartition(".")
    raw = bytearray(b64url_decode(encoded))
    raw[size - 1] ^= 1
    with pytest.raises(InvalidToken, match="bad signature"):
        verify(verifier, f"{signing_input}.{b64(bytes(raw))}")


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_digest_info_prefixes_match_the_pkcs1_encoding(alg: str):
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from daloy_edge.jose._backend import _DIGEST_INFO

    hash_name, prefix = _DIGEST_INFO[alg]
    message = b"header.payload"
    signature = PRIVATE.sign(message, padding.PKCS1v15(), getattr(hashes, hash_name.upper())())
    recovered = PRIVATE.public_key().recover_data_from_signature(
        signature, padding.PKCS1v15(), None
    )
    assert recovered == prefix + hashlib.new(hash_name, message).digest()


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_rsa_tokens_verify_with_their_own_hash_only(alg: str):
    from tests.jwtkit import raw_signature

    def verifier_for(allowed: str) -> JWTVerifier:
        return JWTVerifier(
            keys=Keys(PRIVATE),
            algorithms=[allowed],
            policy=ClaimsPolicy(issuer=ISSUER, audience=AUDIENCE),
            clock=Clock(),
        )

    token = mint(PRIVATE, alg, KID)
    assert verify(verifier_for(alg), token).claims["sub"] == "alice"
    signing_input, _, _ = token.rpartition(".")
    other = "RS384" if alg == "RS256" else "RS256"
    crossed = f"{signing_input}.{b64(raw_signature(PRIVATE, other, signing_input.encode()))}"
    with pytest.raises(InvalidToken, match="bad signature"):
        verify(verifier_for(alg), crossed)


@pytest.mark.parametrize("fill", [b"\x00", b"\xff"])
def test_rsa_signature_values_outside_the_modulus_are_bad_signatures(fill: bytes):
    verifier = make(Keys(PRIVATE), Clock())
    signing_input, _, _ = mint(PRIVATE, "RS256", KID).rpartition(".")
    with pytest.raises(InvalidToken, match="bad signature"):
        verify(verifier, f"{signing_input}.{b64(fill * 256)}")


def test_long_headers_of_made_up_members_are_checked_but_not_kept_in_memory():
    # The flood: 256 tokens whose 8 KiB headers pass the header rules (an allowed alg, a
    # kid) with hundreds of made-up members, from a client without any key: each header
    # was remembered, decoded, until the memo emptied (19 MB held).
    verifier = make(Keys(PRIVATE), Clock())
    payload = b64(b"{}")
    signature = b64(bytes(256))
    for i in range(8):
        members = ",".join(f'"m{n}":0' for n in range(500))
        header = b64(f'{{"alg":"RS256","kid":"made-up-{i}",{members}}}'.encode())
        with pytest.raises(InvalidToken, match="unknown kid"):
            verify(verifier, f"{header}.{payload}.{signature}")
    assert sum(len(segment) for segment in verifier._headers) == 0
    token = mint(PRIVATE, "RS256", KID)
    verify(verifier, token)
    assert token.partition(".")[0] in verifier._headers


@pytest.mark.parametrize("kid", ["k" * 257, "rsa-1\n", "rsa\u00e9"])
def test_a_kid_no_jwks_can_hold_is_refused_before_the_key_source_is_asked(kid):
    # A JWKS client asked for a kid it lacks may fetch the set again and remembers the kid
    # as unknown: a made-up kid of any size or shape must not reach it.
    class AskedKeys(Keys):
        def __init__(self, private: object) -> None:
            super().__init__(private)
            self.asked: list[str] = []

        async def get_key(self, kid: str) -> JWK | None:
            self.asked.append(kid)
            return await super().get_key(kid)

    keys = AskedKeys(PRIVATE)
    with pytest.raises(InvalidToken, match="kid malformed"):
        verify(make(keys, Clock()), mint(PRIVATE, "RS256", kid))
    assert keys.asked == []


def test_a_kid_of_exactly_256_characters_is_looked_up():
    # The bound a JWKS key's kid may reach (JWK parsing allows 256): at it, the key is found.
    long_kid = "k" * 256
    keys = Keys(PRIVATE)
    keys.set = JWKSet.parse(jwks(public_jwk(PRIVATE, long_kid)))
    assert verify(make(keys, Clock()), mint(PRIVATE, "RS256", long_kid)).claims["sub"] == "alice"
