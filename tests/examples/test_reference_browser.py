"""The browser-facing part of the reference app contract."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import re
import time

import pytest

from daloy_edge import ConfigError
from daloy_edge.testing import TestClient
from examples.secure_app import create_app

KEY_NEW = "new-session-key-0123456789abcdef"
KEY_OLD = "old-session-key-0123456789abcdef"
WEBHOOK_SECRET = "reference-webhook-secret-0123456789"
ENV = {
    "DALOY_SESSION_KEYS": KEY_NEW,
    "DALOY_WEBHOOK_SECRETS": WEBHOOK_SECRET,
    "DALOY_CORS_ORIGINS": "https://app.example",
}


def client(**env: str) -> TestClient:
    return TestClient(create_app({**ENV, **env}))


def logged_in(**env: str) -> TestClient:
    c = client(**env)
    assert c.post("/session/login", json={"user": "alice"}).status == 204
    return c


def form_token(c: TestClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/form").text)
    assert match is not None
    return match.group(1)


def test_login_sets_the_host_session_cookie():
    response = client().post("/session/login", json={"user": "alice"})
    assert response.status == 204
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-session=")
    assert {"Secure", "HttpOnly", "SameSite=Lax", "Path=/"} <= set(cookie.split("; "))


@pytest.mark.parametrize(
    "body",
    [{"user": ""}, {"user": "a b"}, {"user": "<x>"}, {"user": 7}, [], {}, {"user": "alice\n"}],
)
def test_login_refuses_unsafe_user_names(body):
    assert client().post("/session/login", json=body).status == 400


def test_me_answers_the_user_of_the_session():
    assert logged_in().get("/session/me").json() == {"user": "alice"}


def test_me_without_a_session_is_401():
    assert client().get("/session/me").status == 401


def test_logout_clears_the_cookie():
    c = logged_in()
    response = c.post("/session/logout")
    assert response.status == 204
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert c.get("/session/me").status == 401


def test_cookie_signed_with_an_older_key_is_accepted_and_resigned():
    old = logged_in(DALOY_SESSION_KEYS=KEY_OLD).cookies["__Host-session"]
    c = client(DALOY_SESSION_KEYS=f"{KEY_NEW},{KEY_OLD}")
    response = c.get("/session/me", cookies={"__Host-session": old})
    assert response.json() == {"user": "alice"}
    resigned = c.cookies["__Host-session"]
    assert client().get("/session/me", cookies={"__Host-session": resigned}).status == 200


def test_short_session_key_refuses_to_build():
    with pytest.raises(ConfigError):
        create_app({"DALOY_SESSION_KEYS": "too-short"})


def test_unset_session_keys_warn_and_still_serve(capsys):
    c = TestClient(create_app({}))
    assert c.post("/session/login", json={"user": "alice"}).status == 204
    assert "DALOY_SESSION_KEYS is not set" in capsys.readouterr().err


def test_form_page_carries_a_token_field_and_a_nonced_script_matching_the_csp():
    response = logged_in().get("/form")
    nonce = re.search(r'<script nonce="([^"]+)">', response.text)
    assert nonce is not None
    csp = response.headers["content-security-policy"]
    assert f"script-src 'nonce-{nonce.group(1)}' 'strict-dynamic'" in csp
    assert 'name="csrf_token"' in response.text


def test_form_page_without_a_session_is_401():
    assert client().get("/form").status == 401


def test_form_post_with_field_token_is_ok():
    c = logged_in()
    response = c.post("/form", data={"csrf_token": form_token(c), "note": "hi"})
    assert response.json() == {"ok": True}


def test_form_post_with_header_token_is_ok():
    c = logged_in()
    response = c.post("/form", json={"note": "hi"}, headers={"x-csrf-token": form_token(c)})
    assert response.json() == {"ok": True}


def test_form_post_without_token_is_403():
    assert logged_in().post("/form", data={"note": "hi"}).status == 403


def test_form_post_from_another_origin_is_403():
    c = logged_in()
    headers = {"origin": "https://evil.example", "x-csrf-token": form_token(c)}
    assert c.post("/form", headers=headers).status == 403


def test_login_from_a_cross_site_page_is_403():
    response = client().post(
        "/session/login", json={"user": "mallory"}, headers={"sec-fetch-site": "cross-site"}
    )
    assert response.status == 403


def signed(body: bytes, t: int | None = None, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"x-signature": f"t={t},v1={mac}", "content-type": "application/json"}


def test_signed_webhook_is_received():
    body = b'{"id":1}'
    response = client().post("/webhooks/ingest", content=body, headers=signed(body))
    assert response.json() == {"received": True}


def test_replayed_webhook_is_401():
    c, body = client(), b'{"id":2}'
    headers = signed(body)
    c.post("/webhooks/ingest", content=body, headers=headers)
    assert c.post("/webhooks/ingest", content=body, headers=headers).status == 401


def test_stale_webhook_is_401():
    body = b'{"id":3}'
    headers = signed(body, int(time.time()) - 301)
    assert client().post("/webhooks/ingest", content=body, headers=headers).status == 401


def test_webhook_without_configured_secrets_is_401():
    body = b'{"id":4}'
    c = client(DALOY_WEBHOOK_SECRETS="")
    assert c.post("/webhooks/ingest", content=body, headers=signed(body)).status == 401


@pytest.mark.parametrize("path", ["/health", "/nope", "/boom", "/session/me", "/a/%2e%2e/b"])
def test_every_response_carries_the_secure_headers(path):
    headers = client().get(path).headers
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert headers["x-content-type-options"] == "nosniff"
    for name in (
        "referrer-policy",
        "cross-origin-opener-policy",
        "cross-origin-resource-policy",
        "permissions-policy",
    ):
        assert name in headers
    assert "content-security-policy" not in headers


def test_big_is_gzipped_when_asked():
    response = client().get("/big", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert len(gzip.decompress(response.content)) > 100_000


def test_form_page_is_never_compressed():
    c = logged_in()
    response = c.get("/form", headers={"accept-encoding": "gzip, br"})
    assert "content-encoding" not in response.headers


def test_cors_preflight_from_a_configured_origin_is_answered():
    headers = {"origin": "https://app.example", "access-control-request-method": "POST"}
    response = client().options("/form", headers=headers)
    assert response.status == 204
    assert response.headers["access-control-allow-origin"] == "https://app.example"


def test_cors_preflight_from_a_foreign_origin_is_refused():
    headers = {"origin": "https://evil.example", "access-control-request-method": "POST"}
    assert client().options("/form", headers=headers).status == 403
