"""OWASP ASVS 5.0 requirements the reference app meets by default, on every transport,
that the contract tests do not already show (docs/asvs.md maps each requirement to its
test). Each test names its requirement."""

from __future__ import annotations

import base64
import json
import time

from daloy_edge import KeyRing
from daloy_edge.middleware.sessions import Session, SessionConfig, Sessions
from tests.conformance.harness.checks import assert_problem, cookie_attributes
from tests.conformance.harness.client import Reply, Transport
from tests.conformance.harness.targets import SESSION_KEYS

COOKIE = "__Host-session"
JSON = {"Content-Type": "application/json"}
HOUR = 3600


def session_of(reply: Reply) -> str:
    fields = [c for c in reply.headers.get_all("set-cookie") if c.startswith(COOKIE + "=")]
    assert len(fields) == 1, reply.headers.get_all("set-cookie")
    return cookie_attributes(fields[0])[1]


def session_id(value: str) -> str:
    payload = value.partition(".")[0]
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    identifier: str = body["i"]
    return identifier


def login(http: Transport, cookie: str | None = None) -> str:
    headers = dict(JSON, Cookie=f"{COOKIE}={cookie}") if cookie else JSON
    reply = http.post("/session/login", headers=headers, body=b'{"user": "alice"}')
    assert reply.status == 204, reply.body[:200]
    return session_of(reply)


def issued(*, created_ago: int, signed_ago: int) -> str:
    """A session for alice created ``created_ago`` seconds ago and last re-signed
    ``signed_ago`` seconds ago, with the app's own key."""
    now = int(time.time())
    config = SessionConfig(
        keys=KeyRing([SESSION_KEYS[0]]), allow_no_csrf=True, clock=lambda: now - signed_ago
    )
    session = Session.fresh(lambda: "asvs-session-id-0123456789", lambda: now - created_ago)
    session["user"] = "alice"
    return Sessions(config).encode(session)


def test_asvs_7_2_3_session_ids_carry_128_random_bits(http: Transport) -> None:
    ids = {session_id(login(http)) for _ in range(3)}
    assert len(ids) == 3
    for identifier in ids:
        assert len(base64.urlsafe_b64decode(identifier + "=" * (-len(identifier) % 4))) >= 16


def test_asvs_7_2_4_sign_in_over_a_session_issues_a_new_session_id(http: Transport) -> None:
    first = login(http)
    second = login(http, first)
    assert session_id(second) != session_id(first)


def test_asvs_7_3_1_a_session_idle_past_eight_hours_is_refused(http: Transport) -> None:
    fresh = issued(created_ago=HOUR, signed_ago=HOUR)
    assert http.get("/session/me", headers={"Cookie": f"{COOKIE}={fresh}"}).status == 200
    idle = issued(created_ago=9 * HOUR, signed_ago=8 * HOUR + 60)
    assert_problem(http.get("/session/me", headers={"Cookie": f"{COOKIE}={idle}"}), 401)


def test_asvs_7_3_2_a_session_past_seven_days_is_refused_though_in_use(http: Transport) -> None:
    # Re-signed a minute ago, so never idle: the absolute lifetime alone ends it.
    old = issued(created_ago=7 * 24 * HOUR + 60, signed_ago=60)
    assert_problem(http.get("/session/me", headers={"Cookie": f"{COOKIE}={old}"}), 401)


def test_asvs_4_1_1_text_answers_name_their_charset(http: Transport) -> None:
    page = http.get("/form", headers={"Cookie": f"{COOKIE}={login(http)}"})
    assert page.headers.get("content-type") == "text/html; charset=utf-8"
    style = http.get("/static/style.css")
    assert style.headers.get("content-type") == "text/css; charset=utf-8"
    for target in ("/health", "/no/such/route"):
        media = http.get(target).media_type
        assert media in ("application/json", "application/problem+json")


def test_asvs_13_4_3_no_directory_listing_of_the_static_folder(http: Transport) -> None:
    for target in ("/static/", "/static"):
        assert_problem(http.get(target), 404)


def test_asvs_13_4_4_trace_is_not_supported(http: Transport) -> None:
    for target in ("/health", "/static/hello.txt"):
        reply = http.request("TRACE", target)
        if http.name == "workers":
            # No JS Request carries TRACE (a forbidden method): the edge answers 400
            # before any Worker runs.
            assert (reply.status, reply.body) == (400, b"")
            continue
        assert_problem(reply, 405)
        assert b"TRACE" not in reply.body
