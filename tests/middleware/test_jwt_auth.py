"""JWTAuth behaviour: principal, challenges, timings, configuration and key rotation."""

from __future__ import annotations

import pytest

from daloy_edge import App, ConfigError, Request, Response
from daloy_edge.jose import InvalidToken, JWKSClient, JWKSet, KeysUnavailable, PyJWTBackend
from daloy_edge.middleware.jwt import JWTAuth, JWTConfig
from daloy_edge.principal import Principal
from daloy_edge.testing import TestClient
from daloy_edge.transport import HttpxTransport
from tests.jose.jwks_server import FakeClock, JWKSServer
from tests.jwtkit import AUDIENCE, ISSUER, NOW, claims, ec_key, jwks, mint, public_jwk


def static_keys() -> JWKSet:
    return JWKSet.parse(jwks(public_jwk(ec_key(), "ec-256")))


def config(**overrides: object) -> JWTConfig:
    values: dict[str, object] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "algorithms": ("ES256",),
        "keys": static_keys(),
        "clock": lambda: NOW,
    }
    values.update(overrides)
    return JWTConfig(**values)  # type: ignore[arg-type]


class Recorder:
    def __init__(self) -> None:
        self.errors: list[BaseException | None] = []

    def on_response(self, request, response, duration_s, error) -> None:
        self.errors.append(error)


def make_app(cfg: JWTConfig) -> tuple[App, Recorder]:
    recorder = Recorder()
    app = App(observers=[recorder])

    @app.get("/me", middleware=[JWTAuth(cfg)])
    async def me(request: Request) -> dict[str, object]:
        principal = request.principal
        if principal is None:
            return {"anonymous": True}
        assert isinstance(principal, Principal)
        return {
            "sub": principal.subject,
            "scopes": sorted(principal.scopes),
            "aud": principal.claims["aud"],
            "scheme": principal.scheme,
        }

    return app, recorder


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_verified_principal_reaches_the_handler():
    app, _ = make_app(config())
    token = mint(ec_key(), "ES256", "ec-256", claims(scope="a b", scp=["c"]))
    response = TestClient(app).get("/me", headers=bearer(token))
    assert response.json() == {
        "sub": "alice",
        "scopes": ["a", "b", "c"],
        "aud": AUDIENCE,
        "scheme": "bearer",
    }


def test_a_token_sent_again_is_not_signature_checked_again_by_the_middleware():
    # One verifier for the middleware's life: built per request, a client replaying one
    # valid token cost a signature check (and a key import) on each request.
    class CountingBackend(PyJWTBackend):
        __slots__ = ("checks",)

        def __init__(self) -> None:
            super().__init__()
            self.checks = 0

        async def verify(self, alg: str, key: object, data: bytes, signature: bytes) -> bool:
            self.checks += 1
            return await super().verify(alg, key, data, signature)

    backend = CountingBackend()
    app, _ = make_app(config(backend=backend))
    client, token = TestClient(app), mint(ec_key(), "ES256", "ec-256")
    assert [client.get("/me", headers=bearer(token)).status for _ in range(3)] == [200] * 3
    assert backend.checks == 1


def test_auth_time_is_reported_in_server_timing():
    app, _ = make_app(config())
    response = TestClient(app).get("/me", headers=bearer(mint(ec_key(), "ES256", "ec-256")))
    assert response.headers["server-timing"].startswith("auth;dur=")


def test_missing_token_gets_a_bare_bearer_challenge():
    app, _ = make_app(config())
    response = TestClient(app).get("/me")
    assert response.status == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_realm_is_included_in_challenges():
    app, _ = make_app(config(realm="reports"))
    client = TestClient(app)
    assert client.get("/me").headers["www-authenticate"] == 'Bearer realm="reports"'
    refused = client.get("/me", headers=bearer("a.b.c"))
    assert refused.headers["www-authenticate"] == 'Bearer realm="reports", error="invalid_token"'


@pytest.mark.parametrize("realm", ["api\\", "a\\b"])
def test_a_realm_with_a_backslash_refuses_to_build(realm):
    """The realm goes into a quoted-string, where a backslash escapes the character after
    it (RFC 9110, 5.6.4). Accepted, "api\\" sent 'Bearer realm="api\\", error="invalid_token"':
    its closing quote escaped, the realm read on through ', error=', and a client never saw
    the invalid_token that tells it to fetch a new token (RFC 6750, 3.1)."""
    with pytest.raises(ConfigError, match="realm"):
        config(realm=realm)


def test_refusal_reason_goes_to_the_log_not_the_client():
    app, recorder = make_app(config())
    token = mint(ec_key(), "ES256", "ec-256", claims(exp=int(NOW) - 999))
    response = TestClient(app).get("/me", headers=bearer(token))
    assert "expired" not in response.text
    error = recorder.errors[-1]
    assert isinstance(error, InvalidToken)
    assert str(error) == "token expired"
    assert token.split(".")[2] not in str(error)


def test_anonymous_requests_pass_when_allowed():
    app, _ = make_app(config(allow_anonymous=True))
    assert TestClient(app).get("/me").json() == {"anonymous": True}


def test_an_answer_to_a_bearer_token_is_not_stored_by_caches():
    # /me-style principal data: a CDN caching by path alone must not keep it for others.
    app, _ = make_app(config())
    token = mint(ec_key(), "ES256", "ec-256", claims())
    response = TestClient(app).get("/me", headers=bearer(token))
    assert response.headers.get_all("cache-control") == ["no-store"]


def test_an_answer_to_a_bearer_token_keeps_the_routes_own_caching():
    app = App()

    @app.get("/shared", middleware=[JWTAuth(config())])
    async def shared(request: Request) -> Response:
        return Response.json({}, headers={"cache-control": "public, max-age=60"})

    token = mint(ec_key(), "ES256", "ec-256", claims())
    response = TestClient(app).get("/shared", headers=bearer(token))
    assert response.headers.get_all("cache-control") == ["public, max-age=60"]


def test_an_anonymous_answer_gets_no_cache_directive():
    app, _ = make_app(config(allow_anonymous=True))
    assert "cache-control" not in TestClient(app).get("/me").headers


def test_invalid_token_is_refused_even_when_anonymous_is_allowed():
    app, _ = make_app(config(allow_anonymous=True))
    assert TestClient(app).get("/me", headers=bearer("x.y.z")).status == 401


class _NoKeys:
    async def get_key(self, kid: str):
        raise KeysUnavailable("idp down")


def test_unavailable_keys_answer_503_with_retry_after():
    app, _ = make_app(config(keys=_NoKeys()))
    response = TestClient(app).get("/me", headers=bearer(mint(ec_key(), "ES256", "ec-256")))
    assert response.status == 503
    assert response.headers["retry-after"] == "30"


def test_hs256_works_with_an_explicit_key_and_opt_in():
    secret = b"k" * 32
    cfg = config(
        keys=JWKSet.symmetric({"hs-1": secret}), algorithms=("HS256",), allow_symmetric=True
    )
    app, _ = make_app(cfg)
    response = TestClient(app).get("/me", headers=bearer(mint(secret, "HS256", "hs-1")))
    assert response.status == 200


def test_hs256_is_never_checked_against_an_asymmetric_key():
    cfg = config(algorithms=("HS256", "ES256"), allow_symmetric=True)
    app, _ = make_app(cfg)
    forged = mint(b"x" * 32, "HS256", "ec-256")
    assert TestClient(app).get("/me", headers=bearer(forged)).status == 401


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"algorithms": ("HS256",)}, "allow_symmetric"),
        ({"algorithms": ("none",)}, "none"),
        ({"algorithms": ()}, "at least one"),
        ({"algorithms": "RS256"}, "not one string"),
        ({"typ": "at+jwt"}, "not one string"),
        ({"required_claims": "sub"}, "not one string"),
        ({"issuer": ""}, "issuer"),
        ({"audience": ()}, "audience"),
        ({"leeway_s": 3600}, "leeway"),
        ({"realm": 'a"b'}, "realm"),
        ({"keys": None}, "keys"),
    ],
)
def test_unsafe_configuration_refuses_to_build(overrides, message):
    with pytest.raises(ConfigError, match=message):
        config(**overrides)


async def test_tokens_follow_key_rotation_at_a_real_jwks_endpoint():
    old, new = ec_key(), ec_key("rotated", "P-256")
    server = await JWKSServer(jwks(public_jwk(old, "old"))).start()
    transport = HttpxTransport()
    clock = FakeClock()
    try:
        keys = JWKSClient(server.url, transport=transport, allow_insecure_http=True, clock=clock)
        app, _ = make_app(config(keys=keys))
        client = TestClient(app)
        old_token, new_token = mint(old, "ES256", "old"), mint(new, "ES256", "new")
        assert (await client.arequest("GET", "/me", headers=bearer(old_token))).status == 200
        server.document = jwks(public_jwk(old, "old"), public_jwk(new, "new"))
        clock.advance(31)
        assert (await client.arequest("GET", "/me", headers=bearer(new_token))).status == 200
        server.document = jwks(public_jwk(new, "new"))
        clock.advance(301)
        assert (await client.arequest("GET", "/me", headers=bearer(old_token))).status == 401
        assert (await client.arequest("GET", "/me", headers=bearer(new_token))).status == 200
        assert server.hits == 3
    finally:
        await transport.aclose()
        await server.close()


def test_realms_accepted_as_the_former_regex_did_but_no_backslash():
    import random
    import re

    oracle = re.compile(r"[\x20-\x7e]{1,64}")
    alphabet = "aZ0 :!\"#\\'~\x00\t\n\x7f\x80é€"
    rng = random.Random(3)
    realms = ["".join(rng.choices(alphabet, k=rng.randint(0, 70))) for _ in range(3000)]
    for realm in [*realms, "r" * 64, "r" * 65, "a\n"]:
        expected = oracle.fullmatch(realm) is not None and '"' not in realm and "\\" not in realm
        try:
            config(realm=realm)
        except ConfigError:
            accepted = False
        else:
            accepted = True
        assert accepted is expected, repr(realm)


def test_each_token_keeps_its_own_scopes_on_repeat_requests():
    key = ec_key()
    app, _ = make_app(config())
    reader = mint(key, "ES256", "ec-256", claims(scope="reports:read"))
    admin = mint(key, "ES256", "ec-256", claims(scope="admin reports:read", sub="bob"))
    with TestClient(app) as client:
        for _ in range(2):
            for token, expected in ((reader, ["reports:read"]), (admin, ["admin", "reports:read"])):
                body = client.get("/me", headers={"authorization": f"Bearer {token}"}).json()
                assert body["scopes"] == expected


def test_a_token_with_malformed_scopes_is_refused_on_every_request():
    token = mint(ec_key(), "ES256", "ec-256", claims(scope=["a", 7]))
    app, _ = make_app(config())
    with TestClient(app) as client:
        for _ in range(2):
            response = client.get("/me", headers={"authorization": f"Bearer {token}"})
            assert response.status == 401


def test_a_handler_changing_its_claims_does_not_reach_the_next_request():
    app = App()
    seen: list[object] = []

    @app.get("/me", middleware=[JWTAuth(config())])
    async def me(request: Request) -> dict[str, object]:
        principal = request.principal
        assert isinstance(principal, Principal)
        seen.append(principal.claims["sub"])
        principal.claims["sub"] = "mallory"  # type: ignore[index]
        return {}

    token = mint(ec_key(), "ES256", "ec-256")
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get("/me", headers=bearer(token)).status == 200
    assert seen == ["alice", "alice", "alice"]


def test_integer_time_claims_beyond_any_float_are_refused_with_401():
    app, _ = make_app(config())
    token = mint(ec_key(), "ES256", "ec-256", claims(exp=10**400))
    with TestClient(app) as client:
        response = client.get("/me", headers=bearer(token))
    assert response.status == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_token_size_bound_of_nan_refuses_to_build() -> None:
    # No token is longer than NaN: the bound on what is parsed before any check was off.
    with pytest.raises(ConfigError, match="max_token_bytes"):
        JWTConfig(
            issuer="i",
            audience="a",
            algorithms=("RS256",),
            keys=JWKSet([]),
            max_token_bytes=float("nan"),
        )
