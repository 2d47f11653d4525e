"""JWT verification: the middleware (warm JWKS cache) against PyJWT and the raw verify.

For RS256 (RSA-2048) and ES256 (P-256), same run, same token:

- ``raw verify``: ``cryptography``'s signature check alone, objects prebuilt (the floor);
- ``jwt.decode``: PyJWT with a preloaded key object, audience and issuer checked;
- ``JWTAuth``: the whole middleware call (header read, parse, JWKS lookup through a
  warm :class:`~daloy_edge.jose.JWKSClient`, verify, claims, principal, timing), the same
  token every time: from the second call on, the verifier recognises the exact token and
  skips the signature check (the claims are still checked on every call);
- ``JWTAuth, new token each call``: the same middleware cycling through 600 distinct
  tokens (more than the verifier remembers), so every call checks a signature.

Targets: ``JWTAuth`` at most 0.5x ``jwt.decode`` and at most 3x ``raw verify``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Mapping

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from bench._timing import Row, reps, with_ratio
from daloy_edge import Headers, Request, Response
from daloy_edge.jose import JWKSClient, b64url_decode
from daloy_edge.middleware.jwt import JWTAuth, JWTConfig
from daloy_edge.transport import TransportResponse

ISSUER, AUDIENCE = "https://idp.bench", "api://bench"


class _MemoryTransport:
    """Serves one JWKS document from memory (the cache is warmed once, then never asked)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 5.0,
        max_bytes: int = 1024 * 1024,
    ) -> TransportResponse:
        return TransportResponse(200, {"cache-control": "max-age=86400"}, self.body)


def _claims() -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "scope": "reports:read reports:write",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": "0123456789abcdef",
    }


def _raw_verifier(alg: str, public: object, token: str) -> Callable[[], object]:
    signing_input, _, encoded = token.rpartition(".")
    message, signature = signing_input.encode(), b64url_decode(encoded)
    if alg == "RS256":
        assert isinstance(public, rsa.RSAPublicKey)
        pad, digest = padding.PKCS1v15(), hashes.SHA256()
        return lambda: public.verify(signature, message, pad, digest)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    half = len(signature) // 2
    der = encode_dss_signature(
        int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    )
    scheme = ec.ECDSA(hashes.SHA256())
    return lambda: public.verify(der, message, scheme)


def _middleware(jwk: dict[str, object], tokens: list[str], alg: str) -> Callable[[int], object]:
    import itertools
    import json

    document = json.dumps({"keys": [jwk]}).encode()
    keys = JWKSClient("https://idp.bench/jwks.json", transport=_MemoryTransport(document))
    auth = JWTAuth(JWTConfig(issuer=ISSUER, audience=AUDIENCE, algorithms=(alg,), keys=keys))
    requests = [
        Request("GET", "/me", headers=Headers([("authorization", f"Bearer {token}")]))
        for token in tokens
    ]
    turn = itertools.cycle(requests)
    ok = Response(b"")
    loop = asyncio.new_event_loop()

    async def call_next(req: Request) -> Response:
        return ok

    async def batch(count: int) -> None:
        for _ in range(count):
            request = next(turn)
            request.timings.clear()
            await auth(request, call_next)

    loop.run_until_complete(batch(20))
    assert all(r.principal is not None for r in requests[:20])
    return lambda count: loop.run_until_complete(batch(count))


def _repeat(fn: Callable[[], object]) -> Callable[[int], object]:
    def run(count: int) -> None:
        for _ in range(count):
            fn()

    return run


def _interleaved(contenders: dict[str, Callable[[int], object]]) -> dict[str, float]:
    """Median µs per call, measuring the contenders in turns so load changes hit all alike."""
    for run in contenders.values():
        run(50)
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    number = reps(300, 100)
    for _ in range(reps(11, 3)):
        for name, run in contenders.items():
            start = time.perf_counter()
            run(number)
            samples[name].append((time.perf_counter() - start) / number * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def _case(alg: str) -> list[Row]:
    if alg == "RS256":
        private: object = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)  # type: ignore[attr-defined]
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)  # type: ignore[attr-defined]
    jwk.update(kid="bench-1", alg=alg, use="sig")
    public = private.public_key()  # type: ignore[attr-defined]
    tokens = [
        jwt.encode(
            {**_claims(), "jti": f"{n:016x}"},
            private,  # type: ignore[arg-type]
            algorithm=alg,
            headers={"kid": "bench-1"},
        )
        for n in range(600)
    ]
    token = tokens[0]

    def decode() -> object:
        return jwt.decode(token, public, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)

    timings = _interleaved(
        {
            "raw verify": _repeat(_raw_verifier(alg, public, token)),
            "jwt.decode": _repeat(decode),
            "JWTAuth": _middleware(jwk, [token], alg),
            "JWTAuth, new token each call": _middleware(jwk, tokens, alg),
        }
    )
    rows = [Row(alg, name, value) for name, value in timings.items()]
    floor = [Row(f"{alg} vs floor", r.contender, r.median_us) for r in rows]
    return with_ratio(rows, "jwt.decode") + with_ratio(floor, "raw verify")


def run() -> list[Row]:
    """Measure both algorithms."""
    return _case("RS256") + _case("ES256")
