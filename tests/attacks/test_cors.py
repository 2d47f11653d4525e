"""Cross-origin reads: foreign preflights, reflected origins and credentials."""

from __future__ import annotations

import pytest

from daloy_edge import App, ConfigError
from daloy_edge.middleware.cors import CORS, CORSConfig
from daloy_edge.testing import TestClient

TRUSTED = "https://app.example"


def make_app(**config: object) -> tuple[App, list[str]]:
    settings = {
        "allow_origins": (TRUSTED,),
        "allow_methods": ("GET", "DELETE"),
        "allow_credentials": True,
        **config,
    }
    app = App(middleware=[CORS(CORSConfig(**settings))])  # type: ignore[arg-type]
    reached: list[str] = []

    async def deny_all(request, call_next):
        reached.append(request.method)
        return await call_next(request)

    @app.route("/account", ["GET", "DELETE"], middleware=[deny_all])
    async def account(request):
        return {"balance": 100}

    return app, reached


def preflight(client: TestClient, origin: str, method: str = "DELETE", headers: str = ""):
    sent = {"origin": origin, "access-control-request-method": method}
    if headers:
        sent["access-control-request-headers"] = headers
    return client.options("/account", headers=sent)


def test_preflight_from_a_foreign_origin_is_refused_without_cors_headers():
    app, _ = make_app()
    response = preflight(TestClient(app), "https://evil.example")
    assert response.status == 403
    assert "access-control-allow-origin" not in response.headers


def test_preflight_never_reaches_route_middleware_or_handler():
    app, reached = make_app()
    client = TestClient(app)
    preflight(client, TRUSTED)
    preflight(client, "https://evil.example")
    assert reached == []


def test_control_preflight_from_the_trusted_origin_is_answered():
    app, _ = make_app()
    response = preflight(TestClient(app), TRUSTED)
    assert response.status == 204
    assert response.headers["access-control-allow-origin"] == TRUSTED
    assert response.headers["access-control-allow-credentials"] == "true"


def test_foreign_origin_is_never_reflected_on_credentialed_reads():
    app, _ = make_app()
    response = TestClient(app).get("/account", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "https://app.example.evil.example",
        "https://evilapp.example",
        "http://app.example",
        "https://app.example:8443",
        "https://app.example/",
        "https://app.example\r\nx-injected: 1",
        "HTTPS://APP.EXAMPLE@evil.example",
    ],
)
def test_lookalike_origins_are_not_allowed(origin):
    app, _ = make_app()
    response = TestClient(app).get("/account", headers={"origin": origin})
    assert "access-control-allow-origin" not in response.headers


def test_kelvin_sign_lookalike_of_a_listed_origin_is_not_allowed():
    # "\u212a".lower() == "k": the look-alike must not read as the listed origin.
    app, _ = make_app(allow_origins=("https://kiosk.example",))
    client = TestClient(app)
    listed = client.get("/account", headers={"origin": "https://kiosk.example"})
    lookalike = client.get("/account", headers={"origin": "https://\u212aiosk.example"})
    assert listed.headers["access-control-allow-origin"] == "https://kiosk.example"
    assert "access-control-allow-origin" not in lookalike.headers


def test_kelvin_sign_lookalike_preflight_is_refused():
    app, _ = make_app(allow_origins=("https://kiosk.example",))
    assert preflight(TestClient(app), "https://\u212aiosk.example").status == 403


def test_kelvin_sign_in_a_configured_pattern_refuses_to_build():
    # Lower-cased, "https://*.\u212aiosk.example" was "https://*.kiosk.example": the
    # Kelvin sign's look-alike of a name allowed every origin under kiosk.example.
    with pytest.raises(ConfigError, match="must look like"):
        make_app(allow_origin_patterns=("https://*.\u212aiosk.example",))


def test_listed_origin_next_to_a_foreign_one_is_not_allowed():
    # Gateways join repeated fields, keep the first or keep the last: two Origins are
    # nobody's, whichever comes first.
    app, _ = make_app()
    client = TestClient(app)
    for pair in ([TRUSTED, "https://evil.example"], ["https://evil.example", TRUSTED]):
        response = client.get("/account", headers=[("origin", o) for o in pair])
        assert "access-control-allow-origin" not in response.headers
        assert response.headers["vary"] == "Origin"


def test_preflight_with_a_listed_origin_next_to_a_foreign_one_is_refused():
    app, _ = make_app()
    sent = [("origin", TRUSTED), ("origin", "https://evil.example")]
    sent.append(("access-control-request-method", "DELETE"))
    response = TestClient(app).options("/account", headers=sent)
    assert response.status == 403
    assert "access-control-allow-origin" not in response.headers


def test_preflight_asking_for_an_unlisted_header_on_a_second_line_is_refused():
    app, _ = make_app()
    sent = [("origin", TRUSTED), ("access-control-request-method", "DELETE")]
    sent += [("access-control-request-headers", "content-type")]
    sent += [("access-control-request-headers", "x-evil")]
    assert TestClient(app).options("/account", headers=sent).status == 403


def test_preflight_asking_for_an_unlisted_method_on_a_second_line_is_refused():
    app, _ = make_app(allow_methods=("GET",))
    sent = [("origin", TRUSTED), ("access-control-request-method", "GET")]
    sent += [("access-control-request-method", "DELETE")]
    assert TestClient(app).options("/account", headers=sent).status == 403


def test_pattern_matches_one_label_only():
    app, _ = make_app(allow_origins=(), allow_origin_patterns=("https://*.app.example",))
    client = TestClient(app)
    ok = client.get("/account", headers={"origin": "https://eu.app.example"})
    deep = client.get("/account", headers={"origin": "https://evil.example.eu.app.example"})
    assert ok.headers["access-control-allow-origin"] == "https://eu.app.example"
    assert "access-control-allow-origin" not in deep.headers


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "garbage",
        "https://",
        "https://eu.app.example/x",
        "https://.app.example",
        "https://-eu.app.example",
        "https://eu-.app.example",
    ],
)
def test_malformed_origin_against_a_pattern_gets_no_grant_and_no_500(origin):
    app, _ = make_app(allow_origins=(), allow_origin_patterns=("https://*.app.example",))
    response = TestClient(app).get("/account", headers={"origin": origin})
    assert response.status == 200
    assert "access-control-allow-origin" not in response.headers


def test_preflight_without_an_origin_is_a_403_problem_not_a_500():
    app, _ = make_app(allow_origins=(), allow_origin_patterns=("https://*.app.example",))
    response = TestClient(app).options("/account", headers={"access-control-request-method": "GET"})
    assert (response.status, response.headers["content-type"]) == (403, "application/problem+json")


def test_wildcard_with_credentials_refuses_to_build():
    with pytest.raises(ConfigError):
        CORSConfig(allow_origins=("*",), allow_credentials=True)


def test_preflight_asking_for_an_unlisted_header_is_refused():
    app, _ = make_app()
    response = preflight(TestClient(app), TRUSTED, headers="x-evil")
    assert response.status == 403


def test_preflight_asking_for_an_unlisted_method_is_refused():
    app, _ = make_app(allow_methods=("GET",))
    assert preflight(TestClient(app), TRUSTED, method="DELETE").status == 403
