"""CONTRACT.md's defaults, on every transport: with nothing optional configured, /api,
/admin and the webhook stay closed, and the admin allow-list applies before any
credentials are looked at."""

from __future__ import annotations

from tests.conformance.harness.checks import assert_problem, assert_secure_headers
from tests.conformance.harness.client import Transport
from tests.conformance.harness.identity import Issuer, basic, webhook_signature
from tests.conformance.harness.targets import CORS_ORIGIN


def test_api_without_keys_is_401_with_a_bare_bearer_challenge(closed: Transport) -> None:
    reply = closed.get("/api/me")
    assert_problem(reply, 401)
    assert reply.headers.get("www-authenticate") == "Bearer"


def test_api_without_keys_refuses_any_token_as_invalid(closed: Transport, issuer: Issuer) -> None:
    reply = closed.get("/api/reports", headers=issuer.bearer("reports:read"))
    assert_problem(reply, 401)
    assert reply.headers.get("www-authenticate") == 'Bearer error="invalid_token"'


def test_api_without_keys_refuses_basic_then_bearer_headers_as_invalid(
    closed: Transport, issuer: Issuer
) -> None:
    headers = [*basic().items(), *issuer.bearer("reports:read").items()]
    reply = closed.get("/api/me", headers=headers)
    assert_problem(reply, 401)
    assert reply.headers.get("www-authenticate") == 'Bearer error="invalid_token"'


def test_admin_from_outside_the_allow_list_is_403(closed: Transport) -> None:
    reply = closed.get("/admin/stats")
    assert_problem(reply, 403, "ip-not-allowed")
    assert "www-authenticate" not in reply.headers
    assert_secure_headers(reply)


def test_admin_allow_list_applies_before_credentials(closed: Transport) -> None:
    reply = closed.get("/admin/stats", headers=basic())
    assert_problem(reply, 403, "ip-not-allowed")


def test_spoofed_forwarding_headers_do_not_open_admin(closed: Transport) -> None:
    # No trusted proxies: an address the client claims is never its address.
    spoofed = {
        "X-Forwarded-For": "203.0.113.9",
        "Forwarded": "for=203.0.113.9",
        "X-Real-IP": "203.0.113.9",
        "True-Client-IP": "203.0.113.9",
    }
    assert_problem(closed.get("/admin/stats", headers={**spoofed, **basic()}), 403)


def test_unknown_admin_path_is_behind_the_allow_list(closed: Transport) -> None:
    assert_problem(closed.get("/admin/anything"), 403, "ip-not-allowed")


def test_webhook_without_secrets_is_401(closed: Transport) -> None:
    body = b'{"event": "ping"}'
    headers = {"Content-Type": "application/json", "X-Signature": webhook_signature(body)}
    assert_problem(closed.post("/webhooks/ingest", headers=headers, body=body), 401)


def test_cors_without_origins_refuses_every_preflight(closed: Transport) -> None:
    reply = closed.request(
        "OPTIONS",
        "/health",
        headers={"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert_problem(reply, 403)
    assert "access-control-allow-origin" not in reply.headers


def test_fetch_without_opt_in_refuses_loopback(closed: Transport) -> None:
    reply = closed.get("/fetch?url=http%3A%2F%2F127.0.0.1%3A9%2F")
    problem = assert_problem(reply, 403)
    assert str(problem["type"]).endswith("egress-denied")
