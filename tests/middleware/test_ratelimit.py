"""The rate-limit middleware: 429 problems, the IETF RateLimit fields, and the keys."""

from __future__ import annotations

import copy

import pytest

from daloy_edge import App, ConfigError, KeyRing, Request, Response
from daloy_edge.jose import JWKSet
from daloy_edge.middleware.basic_auth import BasicAuth, BasicAuthConfig
from daloy_edge.middleware.jwt import JWTAuth, JWTConfig
from daloy_edge.middleware.ratelimit import RateLimit, RateLimitConfig
from daloy_edge.ratelimit import MemoryStore
from daloy_edge.testing import TestClient
from tests.jwtkit import AUDIENCE, ISSUER, NOW, claims, ec_key, jwks, mint, public_jwk

MINUTE = 1_700_000_040.0  # a minute boundary, so fixed windows start here


class Clock:
    def __init__(self, now: float = MINUTE) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limited_app(*limits: RateLimit, app_wide: bool = False) -> App:
    app = App()
    if app_wide:
        app.use(*limits)
    route_mw = [] if app_wide else list(limits)

    @app.get("/limited", middleware=route_mw)
    async def limited(request):
        return {"ok": True}

    @app.get("/other", middleware=route_mw)
    async def other(request):
        return {"ok": True}

    @app.get("/missing", middleware=route_mw)
    async def missing(request):
        return Response.json({"gone": True}, status=404)

    return app


def five_a_minute(**overrides: object) -> RateLimit:
    options: dict[str, object] = {
        "limit": 5,
        "window": 60,
        "algorithm": "fixed_window",
        "clock": Clock(),
    }
    options.update(overrides)
    return RateLimit(RateLimitConfig(**options))  # type: ignore[arg-type]


def test_allowed_response_carries_ratelimit_policy_and_state():
    client = TestClient(limited_app(five_a_minute()))
    response = client.get("/limited")
    assert response.status == 200
    assert response.headers["ratelimit-policy"] == '"default";q=5;w=60'
    assert response.headers["ratelimit"] == '"default";r=4;t=60'


def test_allowed_answer_is_no_store_so_a_shared_cache_cannot_replay_one_clients_quota():
    """A CDN caching by path (CloudFront's default TTL for an answer without
    Cache-Control) served the first client's RateLimit to everyone and answered them all
    without counting a request."""
    client = TestClient(limited_app(five_a_minute()))
    response = client.get("/limited", client="198.51.100.1")
    assert response.status == 200
    assert response.headers.get_all("cache-control") == ["no-store"]
    assert client.get("/missing").headers.get_all("cache-control") == ["no-store"]


def test_a_limited_route_that_chose_its_own_caching_keeps_it():
    app = App()

    @app.get("/feed", middleware=[five_a_minute()])
    async def feed(request):
        return Response.json({"items": []}, headers={"cache-control": "public, max-age=60"})

    response = TestClient(app).get("/feed")
    assert response.headers.get_all("cache-control") == ["public, max-age=60"]
    assert response.headers["ratelimit"] == '"default";r=4;t=60'


def test_an_unlimited_request_gets_no_cache_control_from_the_limit():
    limit = five_a_minute(key=lambda request: request.headers.get("x-tenant"))
    response = TestClient(limited_app(limit)).get("/limited")
    assert "cache-control" not in response.headers


def test_request_over_the_limit_gets_429_problem_with_retry_after():
    clock = Clock()
    client = TestClient(limited_app(five_a_minute(clock=clock)))
    for _ in range(5):
        assert client.get("/limited").status == 200
    clock.now += 18
    response = client.get("/limited")
    assert response.status == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:daloy-edge:problem:rate-limited"
    assert response.headers["retry-after"] == "42"
    assert response.headers["ratelimit-policy"] == '"default";q=5;w=60'
    assert response.headers["ratelimit"] == '"default";r=0;t=42'


def test_quota_returns_after_retry_after():
    clock = Clock()
    client = TestClient(limited_app(five_a_minute(clock=clock)))
    for _ in range(6):
        client.get("/limited")
    clock.now += int(client.get("/limited").headers["retry-after"])
    assert client.get("/limited").status == 200


@pytest.mark.parametrize(
    ("algorithm", "first", "refused_at"),
    [
        # The previous minute's five fade: one more fits 2 s later, its window ends in 50 s.
        ("sliding_window", 55, 70),
        # The bucket is empty: one token returns in 12 s, the whole bucket in 60 s.
        ("gcra", 0, 0),
    ],
)
def test_a_429_resets_when_its_retry_after_says(algorithm, first, refused_at):
    clock = Clock(MINUTE + first)
    client = TestClient(limited_app(five_a_minute(algorithm=algorithm, clock=clock)))
    for _ in range(5):
        assert client.get("/limited").status == 200
    clock.now = MINUTE + refused_at
    responses = [client.get("/limited") for _ in range(2)]
    # Once from the store, once from the instance's memory of the block: the same answer,
    # and RateLimit's reset names the moment Retry-After does, as the draft asks.
    for response in responses:
        assert response.status == 429
        retry_after = response.headers["retry-after"]
        assert response.headers["ratelimit"] == f'"default";r=0;t={retry_after}'


def test_error_responses_of_a_limited_route_carry_the_fields_too():
    response = TestClient(limited_app(five_a_minute())).get("/missing")
    assert response.status == 404
    assert response.headers["ratelimit"] == '"default";r=4;t=60'


def test_clients_are_counted_separately_by_ip():
    client = TestClient(limited_app(five_a_minute()))
    for _ in range(5):
        client.get("/limited", client="198.51.100.1")
    assert client.get("/limited", client="198.51.100.1").status == 429
    assert client.get("/limited", client="198.51.100.2").status == 200


def test_spoofed_x_forwarded_for_does_not_buy_a_fresh_quota():
    client = TestClient(limited_app(five_a_minute()))
    for i in range(5):
        client.get("/limited", headers={"x-forwarded-for": f"203.0.113.{i}"})
    spoofed = client.get("/limited", headers={"x-forwarded-for": "203.0.113.99"})
    assert spoofed.status == 429


def test_a_limit_by_address_before_trusted_proxies_refuses_to_build():
    # Run first, it counted every client behind the proxy as the proxy: one client's
    # five requests spent the quota of all of them.
    from daloy_edge.middleware.client_ip import TrustedProxies, TrustedProxiesConfig

    proxies = TrustedProxies(TrustedProxiesConfig(proxies=("127.0.0.1/32",)))
    app = limited_app(five_a_minute(), proxies, app_wide=True)
    with pytest.raises(ConfigError, match="RateLimit reads the client address before"):
        app.build()


def test_a_limit_by_a_key_function_may_run_before_trusted_proxies():
    from daloy_edge.middleware.client_ip import TrustedProxies, TrustedProxiesConfig

    proxies = TrustedProxies(TrustedProxiesConfig(proxies=("127.0.0.1/32",)))
    by_tenant = five_a_minute(key=lambda request: request.headers.get("x-tenant"))
    client = TestClient(limited_app(by_tenant, proxies, app_wide=True))
    assert client.get("/limited", headers={"x-tenant": "a"}).status == 200


def test_rotating_ipv6_addresses_within_one_64_share_a_quota():
    client = TestClient(limited_app(five_a_minute()))
    for i in range(5):
        client.get("/limited", client=f"2001:db8:1:2::{i + 1:x}")
    assert client.get("/limited", client="2001:db8:1:2:ffff::9").status == 429
    assert client.get("/limited", client="2001:db8:1:3::1").status == 200


def test_ipv6_networks_are_remembered_within_a_bound(monkeypatch):
    from daloy_edge.middleware import ratelimit as module

    monkeypatch.setattr(module, "_IPV6_NETWORKS", 2)
    client = TestClient(limited_app(five_a_minute()))
    for i in range(5):  # more addresses than the bound, all in one /64
        client.get("/limited", client=f"2001:db8:1:2::{i + 1:x}")
    assert client.get("/limited", client="2001:db8:1:2::1").status == 429


def test_ipv4_mapped_ipv6_address_counts_as_the_ipv4_client():
    client = TestClient(limited_app(five_a_minute()))
    for _ in range(5):
        client.get("/limited", client="192.0.2.7")
    assert client.get("/limited", client="::ffff:192.0.2.7").status == 429


def test_principal_key_counts_per_authenticated_subject():
    async def authenticate(request, call_next):
        request.principal = {"sub": request.headers.get("x-user")}
        return await call_next(request)

    app = App()
    app.use(authenticate)
    limit = five_a_minute(key="principal")

    @app.get("/limited", middleware=[limit])
    async def limited(request):
        return {"ok": True}

    client = TestClient(app)
    for i in range(5):
        client.get("/limited", headers={"x-user": "alice"}, client=f"192.0.2.{i}")
    assert client.get("/limited", headers={"x-user": "alice"}, client="192.0.2.99").status == 429
    assert client.get("/limited", headers={"x-user": "bob"}).status == 200


def test_principal_key_counts_a_plain_string_principal_across_client_addresses():
    # A custom authenticator may set the principal to the user name alone: keyed by IP
    # instead, one user rotating addresses got a fresh quota at each.
    async def authenticate(request, call_next):
        request.principal = request.headers.get("x-user")
        return await call_next(request)

    app = App()
    app.use(authenticate)

    @app.get("/limited", middleware=[five_a_minute(key="principal")])
    async def limited(request):
        return {"ok": True}

    client = TestClient(app)
    for i in range(5):
        client.get("/limited", headers={"x-user": "alice"}, client=f"192.0.2.{i}")
    assert client.get("/limited", headers={"x-user": "alice"}, client="192.0.2.99").status == 429


def jwt_limited_app(required_claims: tuple[str, ...] = ("sub",)) -> App:
    keys = JWKSet.parse(jwks(public_jwk(ec_key(), "ec-256")))
    auth = JWTAuth(
        JWTConfig(
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=("ES256",),
            keys=keys,
            required_claims=required_claims,
            clock=lambda: NOW,
        )
    )
    app = App()

    @app.get("/limited", middleware=[auth, five_a_minute(key="principal")])
    async def limited(request):
        return {"ok": True}

    return app


def bearer_for(subject: str | None) -> dict[str, str]:
    token = mint(ec_key(), "ES256", "ec-256", claims(sub=subject))
    return {"authorization": f"Bearer {token}"}


def test_principal_key_counts_one_jwt_subject_across_client_addresses():
    # The bypass: one stolen or scripted token spread over many addresses got a fresh
    # quota on each (the key read .sub, which a Principal does not have, and fell back to
    # the address).
    client = TestClient(jwt_limited_app())
    for i in range(5):
        client.get("/limited", headers=bearer_for("alice"), client=f"192.0.2.{i}")
    assert client.get("/limited", headers=bearer_for("alice"), client="192.0.2.99").status == 429


def test_principal_key_gives_each_jwt_subject_behind_one_address_its_own_quota():
    client = TestClient(jwt_limited_app())
    for _ in range(5):
        client.get("/limited", headers=bearer_for("alice"), client="192.0.2.7")
    assert client.get("/limited", headers=bearer_for("bob"), client="192.0.2.7").status == 200


def test_principal_key_counts_tokens_without_a_subject_by_client_address():
    # Every token without a subject sharing one key would let one client exhaust the
    # quota of all the others.
    client = TestClient(jwt_limited_app(required_claims=()))
    for _ in range(5):
        client.get("/limited", headers=bearer_for(None), client="192.0.2.7")
    assert client.get("/limited", headers=bearer_for(None), client="192.0.2.8").status == 200


@pytest.mark.parametrize("client", [None, "not:an-address"], ids=["no-address", "unparsable"])
def test_a_request_without_a_usable_client_address_is_limited_not_let_through(client):
    # No identity lets a request pass unlimited (an optional key): a client address that
    # is missing or no IP still shares one bucket, or hiding it would bypass the limit.
    app = limited_app(five_a_minute())
    http = TestClient(app)
    statuses = [
        http._loop.run_until_complete(app.handle(Request("GET", "/limited", client=client))).status
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]


def test_anonymous_requests_fall_back_to_the_client_ip_under_the_principal_key():
    client = TestClient(limited_app(five_a_minute(key="principal")))
    for _ in range(5):
        client.get("/limited")
    assert client.get("/limited").status == 429


def test_api_key_key_counts_per_presented_key():
    client = TestClient(limited_app(five_a_minute(key="api_key")))
    for _ in range(5):
        client.get("/limited", headers={"x-api-key": "key-one"})
    assert client.get("/limited", headers={"x-api-key": "key-one"}).status == 429
    assert client.get("/limited", headers={"x-api-key": "key-two"}).status == 200


def test_omitting_the_api_key_does_not_bypass_the_limit():
    client = TestClient(limited_app(five_a_minute(key="api_key")))
    for _ in range(5):
        client.get("/limited")
    assert client.get("/limited").status == 429


def test_api_keys_never_reach_the_store_in_clear():
    store = MemoryStore()
    client = TestClient(limited_app(five_a_minute(key="api_key", store=store)))
    client.get("/limited", headers={"x-api-key": "sk_live_very_secret"})
    assert len(store) == 1
    assert not any("sk_live" in key for key in store._entries)


def test_api_key_with_a_lone_surrogate_from_a_lambda_event_is_counted_not_a_500():
    # An event's JSON can spell "\udc80" in a header; hashing the key as strict UTF-8
    # raised, and every such request was a 500.
    from daloy_edge_aws_lambda import handler

    from tests.conformance.harness.gateways import recorded

    serve = handler(limited_app(five_a_minute(key="api_key")))
    event = recorded("http-v2")
    event["rawPath"] = "/limited"
    event["requestContext"]["http"]["method"] = "GET"
    event.pop("body", None)
    event["headers"]["x-api-key"] = "key-\udc80"
    statuses = [serve(copy.deepcopy(event), None)["statusCode"] for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_custom_key_function_returning_none_leaves_the_request_unlimited():
    limit = five_a_minute(key=lambda request: request.headers.get("x-tenant"))
    client = TestClient(limited_app(limit))
    for _ in range(7):
        response = client.get("/limited")
        assert response.status == 200
        assert "ratelimit" not in response.headers
    for _ in range(5):
        client.get("/limited", headers={"x-tenant": "acme"})
    assert client.get("/limited", headers={"x-tenant": "acme"}).status == 429


def test_per_route_limits_are_independent():
    per_route = App()
    first, second = five_a_minute(), five_a_minute()

    @per_route.get("/a", middleware=[first])
    async def a(request):
        return {}

    @per_route.get("/b", middleware=[second])
    async def b(request):
        return {}

    client = TestClient(per_route)
    for _ in range(5):
        client.get("/a")
    assert client.get("/a").status == 429
    assert client.get("/b").status == 200


def test_app_wide_limit_counts_every_route_together():
    client = TestClient(limited_app(five_a_minute(), app_wide=True))
    for _ in range(3):
        client.get("/limited")
    for _ in range(2):
        client.get("/other")
    assert client.get("/limited").status == 429
    assert client.get("/nowhere").status == 429


def test_two_policies_on_one_route_form_one_structured_field_list():
    burst = five_a_minute(name="burst")
    hourly = five_a_minute(name="hourly", limit=100, window=3600)
    response = TestClient(limited_app(burst, hourly)).get("/limited")
    # The inner middleware adds its fields first; the clock is 46 min into the hour.
    assert response.headers["ratelimit-policy"] == '"hourly";q=100;w=3600, "burst";q=5;w=60'
    assert response.headers["ratelimit"] == '"hourly";r=99;t=2760, "burst";r=4;t=60'


@pytest.mark.parametrize(
    "options",
    [
        {"limit": 0, "window": 60},
        {"limit": 5, "window": 0},
        {"limit": 5, "window": 60, "cost": 6},
        {"limit": 5, "window": 60, "name": 'bad"name'},
        {"limit": 5, "window": 60, "algorithm": "leaky"},
        {"limit": 5, "window": 60, "key": "cookie"},
        {"limit": 5, "window": 60, "ipv6_prefix": 8},
        {"limit": 5, "window": 60, "api_key_header": "x api key"},
        {"limit": 5, "window": 60, "on_store_error": "ignore"},
    ],
)
def test_invalid_configuration_is_refused_at_build_time(options):
    with pytest.raises(ConfigError):
        RateLimitConfig(**options)


def test_two_rate_limits_of_one_name_on_one_request_refuse_to_build():
    # Both were named "default": RateLimit read '"default";r=0;t=60, "default";r=96;t=60'.
    app = App(middleware=[five_a_minute(limit=100)])

    @app.get("/login", middleware=[five_a_minute()])
    async def login(request):
        return None

    with pytest.raises(ConfigError, match="two rate limits named 'default' run on one"):
        app.build()


def test_route_limits_of_one_name_and_other_quotas_in_one_store_refuse_to_build():
    # Counted in one key: 100 requests to /search spent /login's quota of 5 too.
    store = MemoryStore()
    app = App()

    @app.get("/login", middleware=[five_a_minute(store=store)])
    async def login(request):
        return None

    @app.get("/search", middleware=[five_a_minute(limit=100, store=store)])
    async def search(request):
        return None

    with pytest.raises(ConfigError, match="different quotas count in one store"):
        app.build()


def test_route_limits_of_one_name_and_quota_in_one_store_share_that_quota():
    store = MemoryStore()
    app = App()
    for path in ("/login", "/reset"):
        app.add_route(path, lambda request: None, middleware=[five_a_minute(store=store)])
    client = TestClient(app)
    for _ in range(3):
        client.get("/login")
    for _ in range(2):
        client.get("/reset")
    assert client.get("/login").status == 429


def _bearer_auth() -> JWTAuth:
    keys = JWKSet.parse(jwks(public_jwk(ec_key(), "ec-256")))
    return JWTAuth(JWTConfig(issuer=ISSUER, audience=AUDIENCE, algorithms=("ES256",), keys=keys))


def _basic_auth() -> BasicAuth:
    return BasicAuth(BasicAuthConfig(users={"ops": KeyRing(["o" * 16])}))


@pytest.mark.parametrize("auth", [_bearer_auth, _basic_auth], ids=["jwt", "basic"])
def test_a_principal_rate_limit_ahead_of_the_auth_that_sets_it_refuses_to_build(auth):
    # It counted by IP: anonymous requests from a user's (or an operator's) network spent
    # that user's quota. Bearer tokens and basic credentials both set the principal.
    app = App(middleware=[five_a_minute(key="principal")])

    @app.get("/me", middleware=[auth()])
    async def me(request):
        return None

    with pytest.raises(ConfigError, match="runs before the authentication"):
        app.build()
