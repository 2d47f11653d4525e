from __future__ import annotations

import pytest

from daloy_edge import App, ConfigError, KeyRing, Response
from daloy_edge.middleware.csrf import CSRF_TOKEN_ISSUED, CSRFConfig, CSRFProtect, csrf_token
from daloy_edge.middleware.sessions import SessionConfig, Sessions
from daloy_edge.testing import TestClient

KEYS = KeyRing(["c" * 32])


def make_app(**config: object) -> App:
    csrf = CSRFProtect(CSRFConfig(keys=KEYS, **config))  # type: ignore[arg-type]
    app = App(middleware=[Sessions(SessionConfig(keys=KEYS)), csrf])

    @app.get("/token")
    async def token(request):
        issued = csrf_token(request)
        return {"token": issued, "flag": request.state.get(CSRF_TOKEN_ISSUED)}

    @app.post("/login")
    async def login(request):
        request.session["user"] = "alice"
        return None

    @app.post("/submit")
    async def submit(request):
        return {"ok": True}

    @app.post("/strict", middleware=[csrf.token_required])
    async def strict(request):
        return Response.json({"ok": True})

    return app


def token_for(client: TestClient) -> str:
    return client.get("/token").json()["token"]


def test_token_in_header_is_accepted():
    client = TestClient(make_app())
    token = token_for(client)
    response = client.post("/submit", headers={"x-csrf-token": token})
    assert response.status == 200


def test_token_in_form_field_is_accepted():
    client = TestClient(make_app())
    token = token_for(client)
    response = client.post("/submit", data={"csrf_token": token, "a": "b"})
    assert response.status == 200


def test_every_issued_token_is_different_but_valid():
    client = TestClient(make_app())
    first, second = token_for(client), token_for(client)
    assert first != second
    response = client.post("/submit", headers={"x-csrf-token": first})
    assert response.status == 200
    response = client.post("/submit", headers={"x-csrf-token": second})
    assert response.status == 200


def test_issuing_a_token_marks_the_request_for_compression():
    assert TestClient(make_app()).get("/token").json()["flag"] is True


def test_issuing_a_token_persists_an_empty_session():
    response = TestClient(make_app()).get("/token")
    assert response.headers["set-cookie"].startswith("__Host-session=")


def test_issuing_a_token_for_a_session_with_values_sets_no_new_cookie():
    client = TestClient(make_app(allow_origin_only=True))
    assert client.post("/login").status == 204
    response = client.get("/token")
    assert response.status == 200
    assert "set-cookie" not in response.headers


def test_safe_methods_need_no_token():
    response = TestClient(make_app()).get("/token")
    assert response.status == 200


def test_failure_is_a_403_problem():
    response = TestClient(make_app()).post("/submit")
    assert response.status == 403
    assert response.json()["type"].endswith(":csrf-failed")


@pytest.mark.parametrize(
    "forged",
    [
        "A" * 129,
        "AAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "not a token!",
        "\u00e9" * 8,
        "",
    ],
)
def test_a_malformed_or_forged_token_is_a_403_never_a_500(forged):
    client = TestClient(make_app())
    token_for(client)  # the client holds a session the forged token must match
    response = client.post("/submit", headers={"x-csrf-token": forged})
    assert response.status == 403
    assert response.json()["type"].endswith(":csrf-failed")


def test_a_token_of_another_session_is_refused():
    other = token_for(TestClient(make_app()))
    client = TestClient(make_app())
    token_for(client)
    assert client.post("/submit", headers={"x-csrf-token": other}).status == 403


def test_same_origin_request_passes_the_origin_check():
    client = TestClient(make_app())
    token = token_for(client)
    headers = {
        "x-csrf-token": token,
        "origin": "https://testserver",
        "sec-fetch-site": "same-origin",
    }
    assert client.post("/submit", headers=headers).status == 200


def test_fetch_metadata_with_whitespace_around_it_is_read_as_servers_deliver_it():
    client = TestClient(make_app())
    token = token_for(client)
    headers = {"x-csrf-token": token, "sec-fetch-site": " same-origin\t"}
    assert client.post("/submit", headers=headers).status == 200


def test_token_header_with_whitespace_around_it_is_read_as_servers_deliver_it():
    client = TestClient(make_app())
    token = token_for(client)
    assert client.post("/submit", headers={"x-csrf-token": f" {token}\t"}).status == 200


def test_trusted_origin_passes_the_origin_check():
    client = TestClient(make_app(trusted_origins=("https://app.example",)))
    token = token_for(client)
    headers = {
        "x-csrf-token": token,
        "origin": "https://app.example",
        "sec-fetch-site": "cross-site",
    }
    assert client.post("/submit", headers=headers).status == 200


def test_same_site_is_accepted_only_when_allowed():
    headers = {"sec-fetch-site": "same-site", "origin": "https://sub.testserver"}
    refused = TestClient(make_app())
    assert (
        refused.post("/submit", headers={**headers, "x-csrf-token": token_for(refused)}).status
        == 403
    )
    allowed = TestClient(make_app(allow_same_site=True))
    assert (
        allowed.post("/submit", headers={**headers, "x-csrf-token": token_for(allowed)}).status
        == 200
    )


def test_allowing_same_site_still_refuses_a_cross_site_request():
    client = TestClient(make_app(allow_same_site=True))
    headers = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
    response = client.post("/submit", headers={**headers, "x-csrf-token": token_for(client)})
    assert response.status == 403


def test_origin_only_mode_lets_tokenless_same_origin_requests_through():
    client = TestClient(make_app(allow_origin_only=True))
    assert client.post("/submit", headers={"origin": "https://testserver"}).status == 200


def test_origin_only_mode_still_refuses_cross_site_requests():
    client = TestClient(make_app(allow_origin_only=True))
    assert client.post("/submit", headers={"sec-fetch-site": "cross-site"}).status == 403


def test_token_required_route_demands_a_token_in_origin_only_mode():
    client = TestClient(make_app(allow_origin_only=True))
    assert client.post("/strict").status == 403
    response = client.post("/strict", headers={"x-csrf-token": token_for(client)})
    assert response.status == 200


def test_a_token_lifetime_of_nan_refuses_to_build():
    # No token is older than NaN: CSRF tokens never expired.
    with pytest.raises(ConfigError, match="max_age"):
        CSRFConfig(keys=KeyRing(["k" * 32]), max_age=float("nan"))


def test_a_page_carrying_a_token_is_not_stored_by_shared_caches_whatever_the_route_says():
    # The token is bound to the visitor's session: a cached copy hands it to everyone.
    app = make_app()

    @app.get("/page")
    async def page(request):
        return Response.html(csrf_token(request), headers={"cache-control": "public, max-age=600"})

    client = TestClient(app)
    client.get("/page")  # the first visit sets the session cookie
    response = client.get("/page")
    assert "set-cookie" not in response.headers
    assert response.headers.get_all("cache-control") == ["no-store"]


@pytest.mark.parametrize("order", ["csrf first", "no sessions", "token_required only"])
def test_a_token_check_before_sessions_refuses_to_build(order: str) -> None:
    # The token is bound to the session, which Sessions loads: checked before it, every
    # POST (a valid token included) was refused with a 403 once the app served.
    sessions = Sessions(SessionConfig(keys=KEYS))
    csrf = CSRFProtect(CSRFConfig(keys=KEYS, allow_origin_only=order == "token_required only"))
    app = App(
        middleware={
            "csrf first": [csrf, sessions],
            "no sessions": [csrf],
            "token_required only": [csrf],
        }[order]
    )

    @app.post("/submit", middleware=[csrf.token_required] if order == "token_required only" else [])
    async def submit(request):
        return {"ok": True}

    with pytest.raises(ConfigError, match="POST /submit: CSRF tokens are bound to the session"):
        app.build()


def origin_checked_with_proxies(order: str, proxies: tuple[str, ...]) -> App:
    from daloy_edge.middleware.client_ip import TrustedProxies, TrustedProxiesConfig

    csrf = CSRFProtect(CSRFConfig(keys=KEYS, allow_origin_only=True))
    resolver = TrustedProxies(TrustedProxiesConfig(proxies=proxies))
    app = App(env={}, middleware=[csrf, resolver] if order == "csrf first" else [resolver, csrf])

    @app.post("/submit")
    async def submit(request):
        return {"ok": True}

    return app


def test_an_origin_check_before_trusted_proxies_refuses_to_build() -> None:
    # Behind a proxy ending TLS, the check read the server's http before TrustedProxies
    # took the proxy's https: a post from https://app.example was refused as cross-site,
    # and one from a page on http://app.example passed.
    app = origin_checked_with_proxies("csrf first", ("127.0.0.1/32",))
    with pytest.raises(ConfigError, match="CSRFProtect reads the scheme before TrustedProxies"):
        app.build()


def test_an_origin_check_after_trusted_proxies_compares_the_scheme_the_proxy_reports() -> None:
    client = TestClient(origin_checked_with_proxies("proxies first", ("127.0.0.1/32",)))
    ended_tls = {"x-forwarded-for": "198.51.100.7", "x-forwarded-proto": "https"}

    def post(origin: str) -> int:
        headers = {**ended_tls, "origin": origin}
        return client.post("http://app.example/submit", client="127.0.0.1", headers=headers).status

    assert (post("https://app.example"), post("http://app.example")) == (200, 403)


def test_an_origin_check_before_trusted_proxies_naming_no_proxy_builds() -> None:
    # No proxy named: the scheme stays the server's, whatever the order.
    origin_checked_with_proxies("csrf first", ()).build()


def test_origin_only_checks_and_safe_routes_build_without_sessions() -> None:
    csrf = CSRFProtect(CSRFConfig(keys=KEYS, allow_origin_only=True))
    app = App(middleware=[csrf])

    @app.post("/hook")
    async def hook(request):
        return {"ok": True}

    @app.get("/page", middleware=[csrf.token_required])
    async def page(request):
        return {"ok": True}

    assert TestClient(app).post("/hook").status == 200
