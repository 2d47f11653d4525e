from __future__ import annotations

import pytest

from daloy_edge import App, ConfigError, Response
from daloy_edge.middleware.cors import CORS, CORSConfig
from daloy_edge.testing import TestClient

ORIGIN = "https://app.example"


def make_app(**config: object) -> App:
    app = App(middleware=[CORS(CORSConfig(**config))])  # type: ignore[arg-type]

    @app.get("/data")
    async def data(request):
        return {"ok": True}

    return app


def test_preflight_carries_methods_headers_and_max_age():
    app = make_app(
        allow_origins=(ORIGIN,), allow_headers=("content-type", "x-requested-with"), max_age=321
    )
    headers = {
        "origin": ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "X-Requested-With, Content-Type",
    }
    response = TestClient(app).options("/data", headers=headers)
    assert response.status == 204
    assert response.headers["access-control-allow-methods"] == "GET, HEAD, POST"
    assert response.headers["access-control-allow-headers"] == (
        "content-type, x-requested-with, accept, accept-language, content-language"
    )
    assert response.headers["access-control-max-age"] == "321"
    assert "Origin" in response.headers.get_all("vary")


def test_preflight_asking_for_every_allowed_header_at_once_is_granted():
    app = make_app(allow_origins=(ORIGIN,), allow_headers=("content-type", "x-requested-with"))
    every = "content-type, x-requested-with, accept, accept-language, content-language"
    headers = {
        "origin": ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": every,
    }
    response = TestClient(app).options("/data", headers=headers)
    assert response.status == 204
    assert response.headers["access-control-allow-headers"] == every


def test_preflight_for_a_json_post_names_content_type_when_allow_headers_leaves_it_out():
    # Answered 204 without naming content-type, the browser refused the JSON POST anyway.
    app = make_app(allow_origins=(ORIGIN,), allow_headers=("authorization",))
    headers = {
        "origin": ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    response = TestClient(app).options("/data", headers=headers)
    assert response.status == 204
    allowed = response.headers["access-control-allow-headers"].split(", ")
    assert {"authorization", "content-type"} <= set(allowed)


def test_preflight_is_answered_for_paths_without_a_route():
    app = make_app(allow_origins=(ORIGIN,))
    headers = {"origin": ORIGIN, "access-control-request-method": "GET"}
    assert TestClient(app).options("/nowhere", headers=headers).status == 204


def test_allowed_origin_gets_exposed_headers():
    response = TestClient(make_app(allow_origins=(ORIGIN,), expose_headers=("x-request-id",))).get(
        "/data", headers={"origin": ORIGIN}
    )
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-expose-headers"] == "x-request-id"


def test_cors_headers_a_handler_set_are_replaced_by_the_policy():
    app = App(middleware=[CORS(CORSConfig(allow_origins=(ORIGIN,), allow_credentials=True))])

    @app.get("/own")
    async def own(request):
        return Response.json(
            {},
            headers={"access-control-allow-origin": "*", "access-control-allow-credentials": "x"},
        )

    response = TestClient(app).get("/own", headers={"origin": ORIGIN})
    assert response.headers.get_all("access-control-allow-origin") == [ORIGIN]
    assert response.headers.get_all("access-control-allow-credentials") == ["true"]


@pytest.mark.parametrize("own", [[], [("vary", "Accept")], [("x-other", "1")]])
def test_marks_follow_the_handlers_fields_in_order(own):
    app = App(
        middleware=[
            CORS(CORSConfig(allow_origins=(ORIGIN,), allow_credentials=True, expose_headers=("a",)))
        ],
        request_log=False,
    )

    @app.get("/own")
    async def handler(request):
        return Response.json({}, headers=own)

    fields = TestClient(app).get("/own", headers={"origin": ORIGIN}).headers.items()
    before = Response.json({}, headers=own).headers.items()
    assert fields[: len(before) + 4] == [
        *before,
        ("vary", "Origin"),
        ("access-control-allow-origin", ORIGIN),
        ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "a"),
    ]


def test_an_exposed_list_a_handler_set_is_replaced_and_vary_added_to():
    app = App(middleware=[CORS(CORSConfig(allow_origins=(ORIGIN,), expose_headers=("a",)))])

    @app.get("/own")
    async def own(request):
        return Response.json(
            {}, headers=[("vary", "Accept"), ("access-control-expose-headers", "secret")]
        )

    headers = TestClient(app).get("/own", headers={"origin": ORIGIN}).headers
    assert headers.get_all("access-control-expose-headers") == ["a"]
    assert headers.get_all("access-control-allow-origin") == [ORIGIN]
    assert headers.get_all("vary") == ["Accept", "Origin"]


def test_each_listed_origin_is_answered_with_itself_and_others_with_none():
    # The attack: a foreign page (a look-alike host, a sandboxed "null" origin) reading
    # credentialed responses because its Origin was reflected or another's was answered.
    other = "https://admin.example:8443"
    client = TestClient(make_app(allow_origins=(ORIGIN, other), allow_credentials=True))
    for origin in (ORIGIN, other, ORIGIN, other):
        headers = client.get("/data", headers={"origin": origin}).headers
        assert headers.get_all("access-control-allow-origin") == [origin]
        assert headers.get_all("access-control-allow-credentials") == ["true"]
    for origin in ("https://evil.example", f"{ORIGIN}.evil.example", "null"):
        headers = client.get("/data", headers={"origin": origin}).headers
        assert "access-control-allow-origin" not in headers
        assert "access-control-allow-credentials" not in headers
        assert headers.get_all("vary") == ["Origin"]


def test_allowed_origin_in_other_casing_is_answered_in_lower_case():
    response = TestClient(make_app(allow_origins=(ORIGIN,))).get(
        "/data", headers={"origin": ORIGIN.upper()}
    )
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_origin_listed_with_its_default_port_is_shared_with_the_origin_browsers_send():
    # CSRF trusted the same list entry; CORS refused to build with it.
    client = TestClient(make_app(allow_origins=(f"{ORIGIN}:443",)))
    response = client.get("/data", headers={"origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize(
    ("pattern", "origin"),
    [
        ("https://*.example.com:443", "https://a.example.com"),
        ("http://*.example.com:80", "http://a.example.com"),
    ],
)
def test_pattern_with_its_default_port_matches_the_origins_browsers_send(pattern, origin):
    # Read as written, it matched no origin at all, where an exact origin's default
    # port is dropped.
    client = TestClient(make_app(allow_origin_patterns=(pattern,)))
    response = client.get("/data", headers={"origin": origin})
    assert response.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize("port", [":0", ":0443", ":65536", ":99999"])
def test_an_origin_with_a_port_no_browser_sends_refuses_to_build(port: str):
    # It matched no request ever (":0443" is the ":443" browsers drop), while the list
    # read as if it allowed the origin.
    with pytest.raises(ConfigError, match="scheme://host"):
        make_app(allow_origins=(f"{ORIGIN}{port}",))


def test_credentials_flag_is_absent_unless_configured():
    response = TestClient(make_app(allow_origins=(ORIGIN,))).get(
        "/data", headers={"origin": ORIGIN}
    )
    assert "access-control-allow-credentials" not in response.headers


def test_wildcard_without_credentials_answers_star():
    response = TestClient(make_app(allow_origins=("*",))).get("/data", headers={"origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == "*"


def test_vary_origin_is_sent_without_an_origin():
    response = TestClient(make_app(allow_origins=(ORIGIN,))).get("/data")
    assert "Origin" in response.headers.get_all("vary")


def test_request_rejected_before_middleware_is_readable_by_the_allowed_origin():
    response = TestClient(make_app(allow_origins=(ORIGIN,))).get(
        "/a/%2e%2e/data", headers={"origin": ORIGIN}
    )
    assert response.status == 400
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "Origin" in response.headers.get_all("vary")


def test_request_rejected_before_middleware_varies_on_origin_for_others_too():
    response = TestClient(make_app(allow_origins=(ORIGIN,))).get(
        "/a/%2e%2e/data", headers={"origin": "https://evil.example"}
    )
    assert response.status == 400
    assert "access-control-allow-origin" not in response.headers
    assert "Origin" in response.headers.get_all("vary")


def test_refused_preflight_varies_on_origin():
    headers = {"origin": "https://evil.example", "access-control-request-method": "GET"}
    response = TestClient(make_app(allow_origins=(ORIGIN,))).options("/data", headers=headers)
    assert response.status == 403
    assert "Origin" in response.headers.get_all("vary")


def test_preflight_answer_varies_on_what_it_asks_for():
    # A cache keying a 204 on the Origin alone served it to a preflight asking for an
    # unlisted method or header, and a 403 to one asking for a listed one.
    client = TestClient(make_app(allow_origins=(ORIGIN,)))
    asked = {"origin": ORIGIN, "access-control-request-method": "GET"}
    answered = client.options("/data", headers=asked)
    refused = client.options("/data", headers={**asked, "access-control-request-headers": "x-a"})
    assert (answered.status, refused.status) == (204, 403)
    for response in (answered, refused):
        varies = {n.strip().lower() for v in response.headers.get_all("vary") for n in v.split(",")}
        assert {
            "origin",
            "access-control-request-method",
            "access-control-request-headers",
        } <= varies


def test_plain_options_without_request_method_is_not_a_preflight():
    response = TestClient(make_app(allow_origins=(ORIGIN,))).options(
        "/data", headers={"origin": ORIGIN}
    )
    assert response.status == 405


@pytest.mark.parametrize(
    "config",
    [
        {"allow_origins": ("https://a.example/path",)},
        {"allow_origins": ("null",)},
        {"allow_origins": ("*", ORIGIN)},
        {"allow_origin_patterns": ("https://*",)},
        {"allow_origin_patterns": ("https://*.com",)},
        {"allow_headers": ("*",)},
        {"allow_methods": ("GET\r\n",)},
        {"max_age": -1},
        # Access-Control-Max-Age is delta-seconds: "600.0" or "True" is ignored by
        # browsers, so every request would pay for its preflight again.
        {"max_age": 600.0},
        {"max_age": True},
    ],
)
def test_invalid_configuration_refuses_to_build(config):
    with pytest.raises(ConfigError):
        CORSConfig(**config)


@pytest.mark.parametrize(
    "config",
    [
        {"allow_methods": "PUT"},
        {"allow_headers": "authorization"},
        {"expose_headers": "x-request-id"},
        {"allow_origins": "*"},
    ],
)
def test_a_list_given_as_one_string_refuses_to_build(config):
    with pytest.raises(ConfigError, match="not one string"):
        CORSConfig(**config)


def test_cors_after_authentication_refuses_to_build():
    # A preflight carries no credentials: behind BasicAuth every one was a 401, and no
    # browser sent the request it asked about.
    from daloy_edge import KeyRing, Router
    from daloy_edge.middleware.basic_auth import BasicAuth, BasicAuthConfig

    auth = BasicAuth(BasicAuthConfig(users={"admin": KeyRing(["p" * 20])}))
    cors = CORS(CORSConfig(allow_origins=("https://app.example",)))
    api = Router()

    @api.post("/notes")
    async def notes(request):
        return {"ok": True}

    app = App()
    app.mount("/api", api, middleware=[auth, cors])
    with pytest.raises(ConfigError, match="BasicAuth runs before CORS"):
        app.build()


def test_cors_after_authentication_that_lets_anonymous_requests_through_builds():
    from daloy_edge.jose import JWKSet
    from daloy_edge.middleware.jwt import JWTAuth, JWTConfig
    from tests.jwtkit import AUDIENCE, ISSUER, ec_key, jwks, public_jwk

    keys = JWKSet.parse(jwks(public_jwk(ec_key(), "ec-256")))
    config = JWTConfig(
        issuer=ISSUER, audience=AUDIENCE, algorithms=("ES256",), keys=keys, allow_anonymous=True
    )
    cors = CORS(CORSConfig(allow_origins=("https://app.example",)))
    app = App(middleware=[JWTAuth(config), cors])

    @app.post("/notes")
    async def notes(request):
        return {"ok": True}

    preflight = {"origin": "https://app.example", "access-control-request-method": "POST"}
    assert TestClient(app).options("/notes", headers=preflight).status == 204
