"""CONTRACT.md, the browser routes: sessions, the CSRF-protected form, signed webhooks and
CORS, on every transport."""

from __future__ import annotations

import html
import re
import secrets
import time

import pytest

from daloy_edge import KeyRing
from daloy_edge.signing import BadSignature, Signer
from tests.conformance.harness.checks import assert_problem, cookie_attributes
from tests.conformance.harness.client import Reply, Transport
from tests.conformance.harness.identity import session_cookie, webhook_signature
from tests.conformance.harness.targets import CORS_ORIGIN, SESSION_KEYS, WEBHOOK_SECRETS

COOKIE = "__Host-session"
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
TOKEN_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
SCRIPT_NONCE = re.compile(r'<script nonce="([^"]+)">')
CSP_NONCE = re.compile(r"script-src 'nonce-([^']+)' 'strict-dynamic'")


def session_set_cookie(reply: Reply) -> str:
    fields = [c for c in reply.headers.get_all("set-cookie") if c.startswith(COOKIE + "=")]
    assert len(fields) == 1, reply.headers.get_all("set-cookie")
    return fields[0]


def login(http: Transport, user: str = "alice") -> str:
    """Sign in; the ``Cookie`` header value that carries the new session."""
    reply = http.post("/session/login", headers=JSON, body=f'{{"user": "{user}"}}'.encode())
    assert reply.status == 204, reply.body[:200]
    name, value, _ = cookie_attributes(session_set_cookie(reply))
    return f"{name}={value}"


def signed_by(value: str, key: str) -> bool:
    try:
        Signer(KeyRing([key]), purpose="session").verify(value, now=time.time(), max_age=None)
    except BadSignature:
        return False
    return True


def form_page(http: Transport, cookie: str) -> tuple[Reply, str]:
    reply = http.get("/form", headers={"Cookie": cookie})
    assert reply.status == 200, reply.body[:200]
    match = TOKEN_FIELD.search(reply.text)
    assert match is not None
    return reply, html.unescape(match.group(1))


# --- sessions ---------------------------------------------------------------------------


def test_login_answers_204_and_sets_the_host_session_cookie(http: Transport) -> None:
    reply = http.post("/session/login", headers=JSON, body=b'{"user": "alice"}')
    assert reply.status == 204
    assert reply.body == b""
    name, value, attributes = cookie_attributes(session_set_cookie(reply))
    assert name == COOKIE and value
    assert {"secure", "httponly"} <= set(attributes)
    assert attributes["samesite"] == "Lax"
    assert attributes["path"] == "/"
    assert "domain" not in attributes


def test_login_with_a_form_body_is_415(http: Transport) -> None:
    reply = http.post("/session/login", headers=FORM, body=b"user=alice")
    assert_problem(reply, 415)
    assert not reply.headers.get_all("set-cookie")


def test_login_without_a_user_is_400(http: Transport) -> None:
    assert_problem(http.post("/session/login", headers=JSON, body=b'{"name": "alice"}'), 400)


def test_session_me_answers_the_signed_in_user(http: Transport) -> None:
    reply = http.get("/session/me", headers={"Cookie": login(http, "bob")})
    assert reply.status == 200
    assert reply.json() == {"user": "bob"}


def test_session_me_reads_a_session_sent_after_a_hundred_other_cookies(http: Transport) -> None:
    # Browsers send the oldest cookies first: a session set at login often comes last.
    others = "; ".join(f"pref{i}=1" for i in range(100))
    reply = http.get("/session/me", headers={"Cookie": f"{others}; {login(http, 'bob')}"})
    assert reply.status == 200
    assert reply.json() == {"user": "bob"}


def test_session_me_without_a_cookie_is_401(http: Transport) -> None:
    assert_problem(http.get("/session/me"), 401)


def test_session_me_refuses_a_tampered_cookie(http: Transport) -> None:
    _, stamp, mac = login(http, "eve").split("=", 1)[1].split(".")
    # Another user's payload under eve's timestamp and MAC.
    payload = session_cookie("admin", SESSION_KEYS[0]).split(".")[0]
    reply = http.get("/session/me", headers={"Cookie": f"{COOKIE}={payload}.{stamp}.{mac}"})
    assert_problem(reply, 401)


def test_session_me_with_two_sessions_in_one_cookie_field_is_401(http: Transport) -> None:
    planted, own = login(http, "mallory"), login(http, "alice")
    assert_problem(http.get("/session/me", headers={"Cookie": f"{planted}; {own}"}), 401)


def test_session_me_with_a_second_session_on_another_cookie_line_is_401(http: Transport) -> None:
    # Runtimes keep the first line, join the lines ("; " for HTTP APIs, "," for gunicorn)
    # or, as an ALB without multi-value headers does, forward only the last one.
    if http.name == "lambda-alb":
        pytest.skip("an ALB without multi-value headers forwards only the last Cookie line")
    own, planted = login(http, "alice"), login(http, "mallory")
    reply = http.get("/session/me", headers=[("Cookie", own), ("Cookie", planted)])
    assert_problem(reply, 401)


def test_session_me_refuses_a_cookie_signed_by_an_unknown_key(http: Transport) -> None:
    value = session_cookie("admin", "an-attacker-chosen-key-0123456789abcdef")
    assert_problem(http.get("/session/me", headers={"Cookie": f"{COOKIE}={value}"}), 401)


def test_form_page_for_a_signed_session_with_a_non_ascii_id_is_401(http: Transport) -> None:
    # Signed with the app's own key, as a tool holding DALOY_SESSION_KEYS could.
    payload = f'{{"i": "\u00e9t\u00e9", "c": {int(time.time())}, "d": {{"user": "alice"}}}}'
    signer = Signer(KeyRing([SESSION_KEYS[0]]), purpose="session")
    value = signer.sign(payload.encode(), now=time.time())
    assert_problem(http.get("/form", headers={"Cookie": f"{COOKIE}={value}"}), 401)


def test_cookie_signed_by_the_older_key_is_accepted_and_resigned(http: Transport) -> None:
    old = session_cookie("carol", SESSION_KEYS[1])
    reply = http.get("/session/me", headers={"Cookie": f"{COOKIE}={old}"})
    assert reply.status == 200
    assert reply.json() == {"user": "carol"}
    _, value, attributes = cookie_attributes(session_set_cookie(reply))
    assert signed_by(value, SESSION_KEYS[0])
    assert not signed_by(value, SESSION_KEYS[1])
    assert {"secure", "httponly"} <= set(attributes) and attributes["samesite"] == "Lax"


def test_a_static_file_re_signing_an_older_keys_cookie_is_not_publicly_cached(
    http: Transport,
) -> None:
    old = session_cookie("carol", SESSION_KEYS[1])
    reply = http.get("/static/style.css", headers={"Cookie": f"{COOKIE}={old}"})
    assert reply.status == 200
    assert session_set_cookie(reply)
    assert reply.headers.get_all("cache-control") == ["no-store"]


def test_logout_answers_204_and_clears_the_cookie(http: Transport) -> None:
    reply = http.post("/session/logout", headers={"Cookie": login(http)})
    assert reply.status == 204
    name, value, attributes = cookie_attributes(session_set_cookie(reply))
    assert (name, value) == (COOKIE, "")
    assert attributes["max-age"] == "0"
    assert {"secure", "httponly"} <= set(attributes) and attributes["path"] == "/"


def test_logout_clearing_the_cookie_is_not_cached(http: Transport) -> None:
    reply = http.post("/session/logout", headers={"Cookie": login(http)})
    assert reply.status == 204
    assert session_set_cookie(reply)
    assert reply.headers.get("cache-control") == "no-store"


def test_a_cross_site_login_is_403(http: Transport) -> None:
    reply = http.post(
        "/session/login",
        headers={**JSON, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        body=b'{"user": "mallory"}',
    )
    assert_problem(reply, 403, "csrf-failed")
    assert not reply.headers.get_all("set-cookie")


# --- the form -----------------------------------------------------------------------------


def test_form_page_is_html_with_a_token_field_and_a_nonced_script(http: Transport) -> None:
    reply, token = form_page(http, login(http))
    assert reply.media_type == "text/html"
    assert len(token) >= 32
    script = SCRIPT_NONCE.search(reply.text)
    csp = CSP_NONCE.search(reply.headers.get("content-security-policy") or "")
    assert script is not None and csp is not None
    assert script.group(1) == csp.group(1)


def test_form_page_nonce_is_fresh_on_every_request(http: Transport) -> None:
    cookie = login(http)
    first, _ = form_page(http, cookie)
    second, _ = form_page(http, cookie)
    nonces = [SCRIPT_NONCE.search(r.text).group(1) for r in (first, second)]  # type: ignore[union-attr]
    assert nonces[0] != nonces[1]


def test_form_page_without_a_session_is_401(http: Transport) -> None:
    reply = http.get("/form")
    assert_problem(reply, 401)
    assert b"csrf_token" not in reply.body


def test_form_post_with_the_token_in_the_form_field_is_ok(http: Transport) -> None:
    cookie = login(http)
    _, token = form_page(http, cookie)
    body = f"csrf_token={token}&note=hello".encode()
    reply = http.post("/form", headers={**FORM, **SAME_ORIGIN, "Cookie": cookie}, body=body)
    assert reply.status == 200, reply.body[:200]
    assert reply.json() == {"ok": True}


def test_form_post_declaring_latin1_in_a_charset_field_is_415(http: Transport) -> None:
    # A browser fills "_charset_" with the encoding it submitted in; read as UTF-8, the
    # note's "%E9" would be U+FFFD here and "é" to a server that decodes by the field.
    cookie = login(http)
    _, token = form_page(http, cookie)
    body = f"_charset_=windows-1252&csrf_token={token}&note=caf%E9".encode()
    reply = http.post("/form", headers={**FORM, **SAME_ORIGIN, "Cookie": cookie}, body=body)
    assert_problem(reply, 415, "unsupported-media-type")


def test_form_post_declaring_utf8_in_a_charset_field_is_ok(http: Transport) -> None:
    cookie = login(http)
    _, token = form_page(http, cookie)
    body = f"_charset_=UTF-8&csrf_token={token}&note=caf%C3%A9".encode()
    reply = http.post("/form", headers={**FORM, **SAME_ORIGIN, "Cookie": cookie}, body=body)
    assert reply.status == 200, reply.body[:200]


def test_form_post_with_the_token_in_the_header_is_ok(http: Transport) -> None:
    cookie = login(http)
    _, token = form_page(http, cookie)
    headers = {**JSON, **SAME_ORIGIN, "Cookie": cookie, "X-CSRF-Token": token}
    reply = http.post("/form", headers=headers, body=b"{}")
    assert reply.status == 200, reply.body[:200]
    assert reply.json() == {"ok": True}


def test_form_post_with_whitespace_around_the_token_header_is_ok(http: Transport) -> None:
    # HTTP servers strip it (RFC 9110 5.5); gateway events and ASGI scopes may keep it.
    cookie = login(http)
    _, token = form_page(http, cookie)
    headers = {**JSON, **SAME_ORIGIN, "Cookie": cookie, "X-CSRF-Token": f" {token} "}
    reply = http.post("/form", headers=headers, body=b"{}")
    assert reply.status == 200, reply.body[:200]


def test_form_post_marked_same_origin_with_whitespace_around_it_is_ok(http: Transport) -> None:
    cookie = login(http)
    _, token = form_page(http, cookie)
    headers = {**JSON, "Sec-Fetch-Site": " same-origin ", "Cookie": cookie, "X-CSRF-Token": token}
    reply = http.post("/form", headers=headers, body=b"{}")
    assert reply.status == 200, reply.body[:200]


def test_form_post_without_a_token_is_403(http: Transport) -> None:
    cookie = login(http)
    reply = http.post("/form", headers={**FORM, **SAME_ORIGIN, "Cookie": cookie}, body=b"note=x")
    assert_problem(reply, 403, "csrf-failed")


def test_form_post_from_a_cross_site_origin_is_403_even_with_a_token(http: Transport) -> None:
    cookie = login(http)
    _, token = form_page(http, cookie)
    headers = {**FORM, "Cookie": cookie, "Origin": "https://evil.example"}
    reply = http.post("/form", headers=headers, body=f"csrf_token={token}".encode())
    assert_problem(reply, 403, "csrf-failed")


def test_form_post_marked_cross_site_by_fetch_metadata_is_403(http: Transport) -> None:
    cookie = login(http)
    _, token = form_page(http, cookie)
    headers = {**FORM, "Cookie": cookie, "Sec-Fetch-Site": "cross-site", "X-CSRF-Token": token}
    assert_problem(http.post("/form", headers=headers, body=b"note=x"), 403, "csrf-failed")


def test_form_post_marked_same_origin_then_cross_site_is_403(http: Transport) -> None:
    # Runtimes that join repeated lines see "same-origin, cross-site"; an ALB without
    # multi-value headers keeps the last line: every runtime refuses.
    cookie = login(http)
    _, token = form_page(http, cookie)
    headers = [
        *JSON.items(),
        ("Cookie", cookie),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-Site", "cross-site"),
        ("X-CSRF-Token", token),
    ]
    assert_problem(http.post("/form", headers=headers, body=b"{}"), 403, "csrf-failed")


def test_form_post_with_a_second_token_line_after_the_valid_one_is_403(http: Transport) -> None:
    cookie = login(http)
    _, token = form_page(http, cookie)
    headers = [
        *JSON.items(),
        *SAME_ORIGIN.items(),
        ("Cookie", cookie),
        ("X-CSRF-Token", token),
        ("X-CSRF-Token", "forged"),
    ]
    assert_problem(http.post("/form", headers=headers, body=b"{}"), 403, "csrf-failed")


def test_form_post_naming_its_origin_on_the_first_of_two_host_lines_is_refused(
    http: Transport,
) -> None:
    # Two Host lines are a 400 (RFC 9112 3.2) from the servers and the app alike; HTTP APIs
    # join them into a Host that names no origin (403), a single-value ALB keeps the last.
    cookie = login(http)
    _, token = form_page(http, cookie)
    headers = [
        *JSON.items(),
        ("Cookie", cookie),
        ("Host", "site.conformance.example"),
        ("Host", "other.conformance.example"),
        ("Origin", "https://site.conformance.example"),
        ("X-CSRF-Token", token),
    ]
    reply = http.post("/form", headers=headers, body=b"{}")
    assert reply.status in (400, 403), reply.body[:200]


def test_form_post_with_a_token_from_another_session_is_403(http: Transport) -> None:
    _, token = form_page(http, login(http, "mallory"))
    victim = login(http, "alice")
    headers = {**FORM, **SAME_ORIGIN, "Cookie": victim}
    reply = http.post("/form", headers=headers, body=f"csrf_token={token}".encode())
    assert_problem(reply, 403, "csrf-failed")


def test_form_token_stops_working_after_a_new_login(http: Transport) -> None:
    cookie = login(http)
    _, token = form_page(http, cookie)
    renewed = login(http)
    headers = {**FORM, **SAME_ORIGIN, "Cookie": renewed}
    assert_problem(http.post("/form", headers=headers, body=f"csrf_token={token}".encode()), 403)


# --- webhooks -----------------------------------------------------------------------------


def delivery(http: Transport) -> bytes:
    """A body no other test (or transport) sends, so replay state never collides."""
    return f'{{"event": "ping", "via": "{http.name}", "id": "{secrets.token_hex(8)}"}}'.encode()


def test_signed_webhook_is_received(http: Transport) -> None:
    body = delivery(http)
    reply = http.post(
        "/webhooks/ingest", headers={**JSON, "X-Signature": webhook_signature(body)}, body=body
    )
    assert reply.status == 200
    assert reply.json() == {"received": True}


def test_webhook_signed_with_the_previous_secret_is_received(http: Transport) -> None:
    body = delivery(http)
    signature = webhook_signature(body, secret=WEBHOOK_SECRETS[1])
    reply = http.post("/webhooks/ingest", headers={**JSON, "X-Signature": signature}, body=body)
    assert reply.status == 200


def test_webhook_with_a_wrong_signature_is_401(http: Transport) -> None:
    body = delivery(http)
    signature = webhook_signature(body, secret="not-the-shared-secret-at-all-0123")
    reply = http.post("/webhooks/ingest", headers={**JSON, "X-Signature": signature}, body=body)
    assert_problem(reply, 401, "webhook-signature")


def test_webhook_with_a_tampered_body_is_401(http: Transport) -> None:
    body = delivery(http)
    signature = webhook_signature(body)
    tampered = body.replace(b"ping", b"pong")
    reply = http.post("/webhooks/ingest", headers={**JSON, "X-Signature": signature}, body=tampered)
    assert_problem(reply, 401, "webhook-signature")


def test_webhook_without_a_signature_is_401(http: Transport) -> None:
    assert_problem(http.post("/webhooks/ingest", headers=JSON, body=delivery(http)), 401)


# Clear of the 300 s edge: the request takes a moment to arrive, which a stamp just past
# the future edge would need to outrun.
@pytest.mark.parametrize("offset", [-330, 330], ids=["stale", "from-the-future"])
def test_webhook_outside_the_300_s_tolerance_is_401(http: Transport, offset: int) -> None:
    body = delivery(http)
    signature = webhook_signature(body, at=int(time.time()) + offset)
    reply = http.post("/webhooks/ingest", headers={**JSON, "X-Signature": signature}, body=body)
    assert_problem(reply, 401, "webhook-signature")


def test_replayed_webhook_is_refused(http: Transport) -> None:
    body = delivery(http)
    headers = {**JSON, "X-Signature": webhook_signature(body)}
    assert http.post("/webhooks/ingest", headers=headers, body=body).status == 200
    assert_problem(http.post("/webhooks/ingest", headers=headers, body=body), 401)


def test_webhook_with_a_second_conflicting_signature_line_is_401(http: Transport) -> None:
    body = delivery(http)
    stamp = int(time.time())
    lines = [
        ("Content-Type", "application/json"),
        ("X-Signature", webhook_signature(body, at=stamp)),
        ("X-Signature", f"t={stamp + 1},v1=" + "0" * 64),
    ]
    assert_problem(http.post("/webhooks/ingest", headers=lines, body=body), 401)


# --- CORS ---------------------------------------------------------------------------------


def preflight(http: Transport, origin: str, method: str = "POST") -> Reply:
    return http.request(
        "OPTIONS",
        "/api/reports",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_preflight_from_the_allowed_origin_is_answered(http: Transport) -> None:
    reply = preflight(http, CORS_ORIGIN)
    assert reply.status == 204
    assert reply.headers.get("access-control-allow-origin") == CORS_ORIGIN
    assert reply.headers.get("access-control-allow-credentials") == "true"
    methods = (reply.headers.get("access-control-allow-methods") or "").split(",")
    assert "POST" in {m.strip() for m in methods}
    allowed = (reply.headers.get("access-control-allow-headers") or "").lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "origin" in ",".join(reply.headers.get_all("vary")).lower()


def test_preflight_for_an_unsafe_accept_value_names_accept_as_allowed(http: Transport) -> None:
    # A browser asks for Accept when its value is not safelisted (a quote, over 128
    # bytes): answered 204 without naming it, the request was refused all the same.
    reply = http.request(
        "OPTIONS",
        "/api/reports",
        headers={
            "Origin": CORS_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "accept",
        },
    )
    assert reply.status == 204
    allowed = (reply.headers.get("access-control-allow-headers") or "").lower()
    assert "accept" in {name.strip() for name in allowed.split(",")}


def test_bearer_challenge_may_be_read_by_a_page_on_the_allowed_origin(http: Transport) -> None:
    # A page on another origin reads only the headers exposed to it: without the
    # challenge it cannot tell an expired token (refresh) from a missing scope.
    reply = http.get("/api/me", headers={"Origin": CORS_ORIGIN, "Authorization": "Bearer x.y.z"})
    assert reply.status == 401
    assert reply.headers.get("access-control-allow-origin") == CORS_ORIGIN
    exposed = (reply.headers.get("access-control-expose-headers") or "").lower()
    assert "www-authenticate" in {name.strip() for name in exposed.split(",")}


def test_preflight_from_a_foreign_origin_is_refused(http: Transport) -> None:
    reply = preflight(http, "https://evil.example")
    assert_problem(reply, 403)
    assert "access-control-allow-origin" not in reply.headers
    assert "access-control-allow-credentials" not in reply.headers


def test_preflight_for_an_unlisted_method_is_refused(http: Transport) -> None:
    reply = preflight(http, CORS_ORIGIN, method="PROPFIND")
    assert reply.status == 403
    assert "access-control-allow-origin" not in reply.headers


def test_preflight_asking_for_an_unlisted_header_on_a_second_line_is_refused(
    http: Transport,
) -> None:
    lines = [("Origin", CORS_ORIGIN), ("Access-Control-Request-Method", "POST")]
    lines += [("Access-Control-Request-Headers", "authorization")]
    lines += [("Access-Control-Request-Headers", "x-evil")]
    reply = http.request("OPTIONS", "/api/reports", headers=lines)
    assert reply.status == 403
    assert "access-control-allow-origin" not in reply.headers


def test_request_from_the_allowed_origin_may_be_read(http: Transport) -> None:
    reply = http.get("/health", headers={"Origin": CORS_ORIGIN})
    assert reply.status == 200
    assert reply.headers.get("access-control-allow-origin") == CORS_ORIGIN
    assert reply.headers.get("access-control-allow-credentials") == "true"
    assert "origin" in ",".join(reply.headers.get_all("vary")).lower()


def test_a_deadline_answer_may_be_read_by_the_allowed_origin(http: Transport) -> None:
    # The 504 is rendered outside the middleware chain, which the deadline cut off.
    reply = http.get("/slow?ms=3000", headers={"Origin": CORS_ORIGIN})
    assert_problem(reply, 504)
    assert reply.headers.get("access-control-allow-origin") == CORS_ORIGIN
    assert "origin" in ",".join(reply.headers.get_all("vary")).lower()


def test_request_from_a_foreign_origin_is_not_shared(http: Transport) -> None:
    reply = http.get("/health", headers={"Origin": "https://evil.example"})
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers
    assert "origin" in ",".join(reply.headers.get_all("vary")).lower()


def test_the_allowed_origin_repeated_with_a_foreign_one_is_not_shared(http: Transport) -> None:
    # Some runtimes keep the first of repeated fields, others join them: none may share.
    origins = [("Origin", CORS_ORIGIN), ("Origin", "https://evil.example")]
    reply = http.get("/health", headers=origins)
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers


def test_a_look_alike_origin_is_not_shared(http: Transport) -> None:
    lookalike = CORS_ORIGIN.replace("https://", "https://evil-")
    reply = http.get("/health", headers={"Origin": lookalike})
    assert "access-control-allow-origin" not in reply.headers
