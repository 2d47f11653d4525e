"""requires(): scope checks per route, per decorator and from both scope claims."""

from __future__ import annotations

import pytest

from daloy_edge import App, ConfigError, Request, use
from daloy_edge.middleware.scopes import requires
from daloy_edge.principal import Principal, scopes_from_claims
from daloy_edge.testing import TestClient


def with_principal(principal: Principal | None):
    async def set_principal(request: Request, call_next):
        request.principal = principal
        return await call_next(request)

    return set_principal


def make_app(principal: Principal | None) -> App:
    app = App(middleware=[with_principal(principal)])

    @app.get("/read", middleware=[requires("reports:read")])
    async def read(request: Request) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/write")
    @use(requires("reports:read", "reports:write"))
    async def write(request: Request) -> dict[str, bool]:
        return {"ok": True}

    return app


def test_granted_scope_passes():
    app = make_app(Principal("alice", frozenset({"reports:read"})))
    assert TestClient(app).get("/read").status == 200


def test_missing_scope_is_403_insufficient_scope():
    app = make_app(Principal("alice", frozenset({"reports:write"})))
    response = TestClient(app).get("/read")
    assert response.status == 403
    assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
    assert response.json()["type"].endswith("insufficient-scope")


def test_every_required_scope_must_be_granted_via_use_decorator():
    client = TestClient(make_app(Principal("alice", frozenset({"reports:read"}))))
    assert client.get("/write").status == 403
    both = make_app(Principal("alice", frozenset({"reports:read", "reports:write"})))
    assert TestClient(both).get("/write").status == 200


def test_no_principal_is_401_not_403():
    response = TestClient(make_app(None)).get("/read")
    assert response.status == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_comma_joined_scope_string_grants_nothing_extra():
    scopes = scopes_from_claims({"scope": "reports:read,reports:write"})
    app = make_app(Principal("alice", scopes))
    assert TestClient(app).get("/read").status == 403


def test_scope_claim_is_space_separated():
    assert scopes_from_claims({"scope": "a  b"}) == {"a", "b"}


def test_scp_list_is_read():
    assert scopes_from_claims({"scp": ["a", "b"]}) == {"a", "b"}


def test_scp_space_separated_string_is_read():
    assert scopes_from_claims({"scp": "a b"}) == {"a", "b"}


def test_scp_list_entries_are_not_split():
    assert scopes_from_claims({"scp": ["a b"]}) == {"a b"}


@pytest.mark.parametrize("value", [1, {"a": True}, ["a", 2], True])
def test_malformed_scope_claims_are_refused(value):
    with pytest.raises(ValueError):
        scopes_from_claims({"scope": value})


@pytest.mark.parametrize("scope", ["", "a b", 'a"', "a\\b"])
def test_invalid_required_scope_refuses_to_build(scope):
    with pytest.raises(ConfigError):
        requires(scope)


def test_requires_needs_a_scope():
    with pytest.raises(ConfigError):
        requires()


def test_a_scope_string_is_split_once_and_shared():
    first = scopes_from_claims({"scope": "memo:a memo:b"})
    assert first == {"memo:a", "memo:b"}
    assert scopes_from_claims({"scope": "memo:a memo:b", "sub": "other"}) is first


def test_empty_entries_of_a_scope_string_grant_nothing():
    assert scopes_from_claims({"scope": " gap:a  gap:b "}) == {"gap:a", "gap:b"}
    assert scopes_from_claims({"scope": ""}) == frozenset()


def test_scp_alongside_scope_is_read_on_every_call():
    claims = {"scope": "both:a", "scp": ["both:b"]}
    assert scopes_from_claims(claims) == {"both:a", "both:b"}
    claims["scp"] = ["both:c"]
    assert scopes_from_claims(claims) == {"both:a", "both:c"}


def test_remembered_scope_strings_are_bounded():
    from daloy_edge import principal

    for n in range(3 * principal._SPLIT_LIMIT):
        assert scopes_from_claims({"scope": f"bound:{n}"}) == {f"bound:{n}"}
    assert len(principal._SPLIT) <= principal._SPLIT_LIMIT


def test_a_scope_check_before_the_authentication_refuses_to_build():
    # Run first, it saw no principal yet: every request, a valid token holding the
    # scope included, was refused with a 401 once the app served.
    from daloy_edge.jose import JWKSet
    from daloy_edge.middleware.jwt import JWTAuth, JWTConfig
    from tests.jwtkit import AUDIENCE, ISSUER, ec_key, jwks, public_jwk

    keys = JWKSet.parse(jwks(public_jwk(ec_key(), "ec-256")))
    auth = JWTAuth(JWTConfig(issuer=ISSUER, audience=AUDIENCE, algorithms=("ES256",), keys=keys))
    app = App()

    @app.get("/reports", middleware=[requires("reports:read"), auth])
    async def reports(request: Request) -> dict[str, bool]:
        return {"ok": True}

    with pytest.raises(ConfigError, match="GET /reports: the scope check runs before"):
        app.build()


def _realm_auth(realm: str, **config: object) -> object:
    """JWTAuth of the test issuer's ES256 key, naming ``realm`` in its challenges."""
    from daloy_edge.jose import JWKSet
    from daloy_edge.middleware.jwt import JWTAuth, JWTConfig
    from tests.jwtkit import AUDIENCE, ISSUER, NOW, ec_key, jwks, public_jwk

    return JWTAuth(
        JWTConfig(
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=("ES256",),
            keys=JWKSet.parse(jwks(public_jwk(ec_key(), "ec-256"))),
            clock=lambda: NOW,
            realm=realm,
            **config,  # type: ignore[arg-type]
        )
    )


def _scope_token() -> str:
    from tests.jwtkit import ec_key, mint

    return mint(ec_key(), "ES256", "ec-256")  # grants reports:read only


def _realm_app(**config: object) -> tuple[App, str]:
    app = App()

    @app.post(
        "/reports", middleware=[_realm_auth("reports-api", **config), requires("reports:write")]
    )
    async def create(request: Request) -> dict[str, bool]:
        return {"ok": True}

    return app, _scope_token()


def test_insufficient_scope_challenge_names_the_realm_of_the_bearer_authentication():
    """RFC 6750 3: the 403 challenge belongs to the protection space the 401 named; it
    carried no realm where JWTAuth's own challenges did."""
    app, token = _realm_app()
    response = TestClient(app).post("/reports", headers={"authorization": f"Bearer {token}"})
    assert response.status == 403
    assert response.headers.get_all("www-authenticate") == [
        'Bearer realm="reports-api", error="insufficient_scope"'
    ]


def test_anonymous_request_refused_by_the_scope_check_names_the_realm():
    app, _ = _realm_app(allow_anonymous=True)
    response = TestClient(app).post("/reports")
    assert response.status == 401
    assert response.headers.get_all("www-authenticate") == ['Bearer realm="reports-api"']


def test_a_scope_check_behind_authentications_of_different_realms_names_none():
    check = requires("reports:write")
    app = App()
    for realm in ("one", "two"):

        @app.get(f"/{realm}", middleware=[_realm_auth(realm), check])
        async def handler(request: Request) -> dict[str, bool]:
            return {"ok": True}

    response = TestClient(app).get("/one", headers={"authorization": f"Bearer {_scope_token()}"})
    assert response.status == 403
    assert response.headers.get_all("www-authenticate") == ['Bearer error="insufficient_scope"']


def test_a_scope_check_shared_by_apps_of_different_realms_names_none_in_either():
    """One requires() object placed in two apps behind JWTAuth of realms "one" and "two":
    building the second app made the first one's 403 name realm "two", a protection space
    its own 401s never named."""
    check = requires("reports:write")
    clients = []
    for realm in ("one", "two"):
        app = App()

        @app.get("/reports", middleware=[_realm_auth(realm), check])
        async def handler(request: Request) -> dict[str, bool]:
            return {"ok": True}

        app.build()
        clients.append(TestClient(app))

    token = _scope_token()
    for client in clients:
        response = client.get("/reports", headers={"authorization": f"Bearer {token}"})
        assert response.status == 403
        assert response.headers.get_all("www-authenticate") == ['Bearer error="insufficient_scope"']
