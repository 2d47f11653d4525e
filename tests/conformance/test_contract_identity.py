"""CONTRACT.md, /api (bearer JWT, scopes, the reports body rules) and /admin (IP allow-list,
then basic auth), on every transport."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conformance.harness.checks import assert_problem
from tests.conformance.harness.client import Transport
from tests.conformance.harness.identity import Issuer, basic
from tests.conformance.harness.targets import ADMIN_PASSWORDS, ADMIN_USER, REFERENCE, Pool
from tests.jwtkit import assemble, b64, rsa_key, sign_raw

JSON = {"Content-Type": "application/json"}
REPORTS_LIMIT = 64 * 1024
FOREIGN_RSA_KEY = rsa_key("conformance-foreign")

# ALB events carry no client address (requestContext names only the target group), and
# the adapter believes X-Forwarded-For only when told to (trust_alb_forwarded_for), which
# the reference app is not: /admin's allow-list sees no address there and answers 403.
NO_CLIENT_ADDRESS = ("lambda-alb", "lambda-alb-multi")


def skip_without_client_address(transport: Transport) -> None:
    if transport.name in NO_CLIENT_ADDRESS:
        pytest.skip(
            "ALB events carry no client address and the reference app does not trust "
            "X-Forwarded-For, so /admin is closed (403) behind an ALB"
        )


def report_body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    head, tail = b'{"note":"', b'"}'
    return head + b"n" * (size - len(head) - len(tail)) + tail


# --- bearer JWT -------------------------------------------------------------------------


def test_api_me_answers_subject_and_scopes(http: Transport, issuer: Issuer) -> None:
    reply = http.get("/api/me", headers=issuer.bearer("reports:write", "reports:read"))
    assert reply.status == 200
    assert reply.media_type == "application/json"
    assert reply.json() == {"sub": "conformance-user", "scopes": ["reports:read", "reports:write"]}


def test_api_me_is_not_stored_by_a_cdn_caching_by_path(http: Transport, issuer: Issuer) -> None:
    reply = http.get("/api/me", headers=issuer.bearer("reports:read"))
    assert reply.status == 200
    assert reply.headers.get_all("cache-control") == ["no-store"]


def test_api_me_accepts_an_rs256_token_from_the_same_jwks(http: Transport, issuer: Issuer) -> None:
    reply = http.get("/api/me", headers=issuer.bearer("reports:read", alg="RS256"))
    assert reply.status == 200, reply.body[:300]
    assert reply.json() == {"sub": "conformance-user", "scopes": ["reports:read"]}


def test_api_refuses_an_rs256_token_signed_by_a_foreign_key(
    http: Transport, issuer: Issuer
) -> None:
    forged = issuer.token("reports:read", alg="RS256", key=FOREIGN_RSA_KEY)
    reply = http.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
    assert_problem(reply, 401, "invalid-token")


def test_api_without_a_token_is_401_with_a_bare_bearer_challenge(http: Transport) -> None:
    reply = http.get("/api/me")
    assert_problem(reply, 401)
    assert reply.headers.get_all("www-authenticate") == ["Bearer"]


def test_api_with_basic_credentials_gets_the_bare_bearer_challenge(http: Transport) -> None:
    reply = http.get("/api/me", headers=basic())
    assert_problem(reply, 401)
    assert reply.headers.get("www-authenticate") == "Bearer"


def test_api_refuses_basic_then_bearer_authorization_headers_as_invalid(
    http: Transport,
) -> None:
    # Some runtimes join repeated fields into one ("Basic ..., Bearer ..."): the answer
    # must still be the one for two headers, not the one for no token.
    headers = [*basic().items(), ("Authorization", "Bearer not-a-token")]
    reply = http.get("/api/me", headers=headers)
    assert_problem(reply, 401, "invalid-token")
    assert reply.headers.get("www-authenticate") == 'Bearer error="invalid_token"'


def test_api_answers_two_basic_authorization_headers_with_the_bare_bearer_challenge(
    http: Transport,
) -> None:
    # Joined by some runtimes into "Basic ...,Basic ...": no bearer token either way, so
    # no runtime may answer as if one had been sent and refused.
    headers = [*basic().items(), *basic(password="wrong-password").items()]
    reply = http.get("/api/me", headers=headers)
    assert_problem(reply, 401, "unauthorized")
    assert reply.headers.get_all("www-authenticate") == ["Bearer"]


def test_api_refuses_a_token_signed_by_a_foreign_key(http: Transport, issuer: Issuer) -> None:
    forged = issuer.token("reports:read", key=ec.generate_private_key(ec.SECP256R1()))
    reply = http.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
    assert_problem(reply, 401, "invalid-token")
    assert reply.headers.get("www-authenticate") == 'Bearer error="invalid_token"'


def test_api_refuses_an_alg_none_token(http: Transport, issuer: Issuer) -> None:
    claims = json.loads(_payload(issuer.token("reports:read")))
    unsigned = assemble({"alg": "none", "typ": "JWT"}, claims, b"")
    reply = http.get("/api/me", headers={"Authorization": f"Bearer {unsigned}"})
    assert_problem(reply, 401, "invalid-token")
    assert reply.headers.get("www-authenticate") == 'Bearer error="invalid_token"'


def test_api_refuses_a_tampered_payload(http: Transport, issuer: Issuer) -> None:
    header, _, signature = issuer.token("reports:read").split(".")
    payload = json.loads(_payload(issuer.token("reports:read")))
    payload["scope"] = "reports:read reports:write admin"
    tampered = f"{header}.{b64(json.dumps(payload).encode())}.{signature}"
    reply = http.get("/api/me", headers={"Authorization": f"Bearer {tampered}"})
    assert_problem(reply, 401, "invalid-token")


@pytest.mark.parametrize(
    "claims",
    [{"exp": 1_000_000_000}, {"aud": "api://someone-else"}, {"iss": "https://evil.example"}],
    ids=["expired", "wrong-audience", "wrong-issuer"],
)
def test_api_refuses_a_token_with_bad_claims(
    http: Transport, issuer: Issuer, claims: dict[str, object]
) -> None:
    reply = http.get("/api/me", headers=issuer.bearer("reports:read", **claims))
    assert_problem(reply, 401, "invalid-token")
    assert reply.headers.get("www-authenticate") == 'Bearer error="invalid_token"'


def test_api_refuses_a_token_with_a_claim_of_more_than_4300_digits(
    http: Transport, issuer: Issuer
) -> None:
    claims = _payload(issuer.token("reports:read")).decode()
    payload = claims[:-1] + ', "n": 1.' + "0" * 4300 + "}"
    token = sign_raw({"alg": "ES256", "kid": issuer.kid}, payload, issuer.key, "ES256")
    reply = http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(reply, 401, "invalid-token")
    assert reply.headers.get("www-authenticate") == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(
    "cnf",
    [
        {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
        {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
    ],
    ids=["dpop", "mtls"],
)
def test_api_refuses_a_key_bound_token_sent_as_a_bearer_token(
    http: Transport, issuer: Issuer, cnf: dict[str, str]
) -> None:
    # RFC 9449 7.2 and RFC 8705 3: the binding cannot be checked here, so a stolen token
    # bound to its client's key (DPoP) or certificate (mTLS) must not work as a bearer one.
    reply = http.get("/api/me", headers=issuer.bearer("reports:read", cnf=cnf))
    assert_problem(reply, 401, "invalid-token")
    assert reply.headers.get("www-authenticate") == 'Bearer error="invalid_token"'


def test_api_refuses_a_logout_token_of_the_issuer_as_an_access_token(
    http: Transport, issuer: Issuer
) -> None:
    # RFC 8725 3.11: the issuer's back-channel logout token, signed with the same keys and
    # with a matching iss and aud, is typed as what it is.
    payload = _payload(issuer.token("reports:read"))
    header = {"alg": "ES256", "kid": issuer.kid, "typ": "logout+jwt"}
    token = sign_raw(header, payload, issuer.key, "ES256")
    reply = http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(reply, 401, "invalid-token")
    assert reply.headers.get("www-authenticate") == 'Bearer error="invalid_token"'


def test_api_ignores_a_token_in_the_query_string(http: Transport, issuer: Issuer) -> None:
    reply = http.get(f"/api/me?access_token={issuer.token('reports:read')}")
    assert_problem(reply, 401)
    assert reply.headers.get("www-authenticate") == "Bearer"


def test_unknown_api_path_without_a_token_is_401(http: Transport) -> None:
    assert_problem(http.get("/api/no/such/thing"), 401)


def test_unknown_api_path_with_a_token_is_404(http: Transport, issuer: Issuer) -> None:
    assert_problem(http.get("/api/no/such/thing", headers=issuer.bearer("reports:read")), 404)


def test_api_wrong_method_with_a_token_is_405_with_allow(http: Transport, issuer: Issuer) -> None:
    reply = http.request("DELETE", "/api/reports", headers=issuer.bearer("reports:write"))
    assert_problem(reply, 405)
    allowed = {m.strip() for m in (reply.headers.get("allow") or "").split(",")}
    assert {"GET", "POST"} <= allowed


# --- scopes -----------------------------------------------------------------------------


def test_reports_list_answers_with_reports_read(http: Transport, issuer: Issuer) -> None:
    reply = http.get("/api/reports", headers=issuer.bearer("reports:read"))
    assert reply.status == 200
    reports = reply.json()
    assert isinstance(reports, dict) and isinstance(reports["reports"], list)


def test_reports_list_without_the_scope_is_403_insufficient_scope(
    http: Transport, issuer: Issuer
) -> None:
    reply = http.get("/api/reports", headers=issuer.bearer("reports:write"))
    assert_problem(reply, 403, "insufficient-scope")
    assert reply.headers.get("www-authenticate") == 'Bearer error="insufficient_scope"'


def test_report_creation_without_reports_write_is_403(http: Transport, issuer: Issuer) -> None:
    reply = http.post(
        "/api/reports", headers={**JSON, **issuer.bearer("reports:read")}, body=b'{"a":1}'
    )
    assert_problem(reply, 403, "insufficient-scope")
    assert reply.headers.get("www-authenticate") == 'Bearer error="insufficient_scope"'


# --- POST /api/reports ------------------------------------------------------------------


def test_report_creation_echoes_the_parsed_body_with_201(http: Transport, issuer: Issuer) -> None:
    body = b'{"title": "Q3 access review", "items": [1, 2.5, null, true], "owner": "\\u00e9"}'
    reply = http.post("/api/reports", headers={**JSON, **issuer.bearer("reports:write")}, body=body)
    assert reply.status == 201
    assert reply.media_type == "application/json"
    assert reply.json() == {"created": json.loads(body)}


def test_report_body_of_exactly_64_kib_is_accepted(http: Transport, issuer: Issuer) -> None:
    body = report_body(REPORTS_LIMIT)
    reply = http.post("/api/reports", headers={**JSON, **issuer.bearer("reports:write")}, body=body)
    assert reply.status == 201, reply.body[:200]


def test_report_body_one_byte_over_64_kib_is_413(http: Transport, issuer: Issuer) -> None:
    body = report_body(REPORTS_LIMIT + 1)
    reply = http.post("/api/reports", headers={**JSON, **issuer.bearer("reports:write")}, body=body)
    assert_problem(reply, 413, "payload-too-large")


@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded", None])
def test_report_body_that_is_not_json_is_415(
    http: Transport, issuer: Issuer, media: str | None
) -> None:
    headers = issuer.bearer("reports:write")
    if media is not None:
        headers["Content-Type"] = media
    reply = http.post("/api/reports", headers=headers, body=b'{"a":1}')
    assert_problem(reply, 415, "unsupported-media-type")


def test_wrong_content_type_is_415_even_when_the_body_is_malformed(
    http: Transport, issuer: Issuer
) -> None:
    headers = {"Content-Type": "text/plain", **issuer.bearer("reports:write")}
    assert_problem(http.post("/api/reports", headers=headers, body=b'{"a":'), 415)


# With a parameter, the first line is the type part of the line HTTP APIs join them into.
@pytest.mark.parametrize("first", ["application/json", "application/json; v=1"])
def test_report_body_under_a_repeated_content_type_is_415(
    http: Transport, issuer: Issuer, first: str
) -> None:
    if http.name == "functions-framework":
        pytest.skip("gunicorn refuses a repeated Content-Type itself (400) before the app runs")
    # Whichever of the two a runtime keeps (first, last, or both joined), the body is
    # refused alike; an ALB without multi-value headers keeps the last, text/plain.
    headers = [
        ("Content-Type", first),
        ("Content-Type", "text/plain"),
        *issuer.bearer("reports:write").items(),
    ]
    reply = http.post("/api/reports", headers=headers, body=b'{"a":1}')
    assert_problem(reply, 415, "unsupported-media-type")


def test_report_body_under_a_type_led_by_a_no_break_space_is_415(
    http: Transport, issuer: Issuer
) -> None:
    # No media type to a proxy or filter, which may let the body through uninspected.
    headers = {"Content-Type": "\xa0application/json", **issuer.bearer("reports:write")}
    reply = http.post("/api/reports", headers=headers, body=b'{"a":1}')
    assert_problem(reply, 415, "unsupported-media-type")


def test_report_body_in_a_content_coding_is_415(http: Transport, issuer: Issuer) -> None:
    headers = {**JSON, "Content-Encoding": "gzip", **issuer.bearer("reports:write")}
    reply = http.post("/api/reports", headers=headers, body=gzip.compress(b'{"a":1}'))
    assert_problem(reply, 415, "unsupported-media-type")
    assert reply.headers.get("accept-encoding") == "identity"


def test_report_body_under_a_repeated_identity_coding_is_created(
    http: Transport, issuer: Issuer
) -> None:
    # Kept apart or joined into "identity, identity", the body is read alike.
    headers = [
        *JSON.items(),
        ("Content-Encoding", "identity"),
        ("Content-Encoding", "identity"),
        *issuer.bearer("reports:write").items(),
    ]
    reply = http.post("/api/reports", headers=headers, body=b'{"a":1}')
    assert reply.status == 201, reply.body[:300]


@pytest.mark.parametrize("charset", ["utf-16", "iso-8859-1", "ibm037"])
def test_report_body_declared_in_a_charset_other_than_utf8_is_415(
    http: Transport, issuer: Issuer, charset: str
) -> None:
    headers = {
        "Content-Type": f"application/json; charset={charset}",
        **issuer.bearer("reports:write"),
    }
    reply = http.post("/api/reports", headers=headers, body=b'{"a":1}')
    assert_problem(reply, 415, "unsupported-media-type")


UNSAFE_JSON = {
    "duplicate-keys": b'{"a": 1, "a": 2}',
    "nesting-33-deep": b"[" * 33 + b"]" * 33,
    "proto-key": b'{"__proto__": {"admin": true}}',
    "constructor-key": b'{"x": {"constructor": {"prototype": 1}}}',
    "prototype-key": b'{"prototype": 1}',
    "number-of-4301-digits": b'{"n": ' + b"7" * 4301 + b"}",
    "malformed": b'{"a": 1,}',
    "nan": b'{"a": NaN}',
    "float-overflow": b'{"n": 1e400}',
    "lone-surrogate": b'{"a": "\\ud800"}',
    "empty": b"",
}


@pytest.mark.parametrize("body", list(UNSAFE_JSON.values()), ids=list(UNSAFE_JSON))
def test_report_body_with_unsafe_json_is_400(http: Transport, issuer: Issuer, body: bytes) -> None:
    reply = http.post("/api/reports", headers={**JSON, **issuer.bearer("reports:write")}, body=body)
    problem = assert_problem(reply, 400, "bad-request")
    assert "Traceback" not in json.dumps(problem)


def test_report_body_nested_32_deep_is_accepted(http: Transport, issuer: Issuer) -> None:
    body = b"[" * 32 + b"]" * 32
    reply = http.post("/api/reports", headers={**JSON, **issuer.bearer("reports:write")}, body=body)
    assert reply.status == 201


# --- /admin -----------------------------------------------------------------------------


def test_admin_stats_with_credentials_answers_a_request_count(http: Transport) -> None:
    skip_without_client_address(http)
    reply = http.get("/admin/stats", headers=basic())
    assert reply.status == 200
    count = reply.json()["requests"]  # type: ignore[index]
    assert isinstance(count, int) and count >= 1


def test_admin_stats_is_not_stored_by_a_cdn_caching_by_path(http: Transport) -> None:
    skip_without_client_address(http)
    reply = http.get("/admin/stats", headers=basic())
    assert reply.status == 200
    assert reply.headers.get_all("cache-control") == ["no-store"]


def test_admin_accepts_the_previous_password_during_rotation(http: Transport) -> None:
    skip_without_client_address(http)
    assert http.get("/admin/stats", headers=basic(password=ADMIN_PASSWORDS[1])).status == 200


def test_admin_credentials_with_tabs_around_the_field_value_pass(http: Transport) -> None:
    # Every HTTP server strips them; event shapes and ASGI scopes must read alike.
    skip_without_client_address(http)
    padded = {"Authorization": "\t" + basic()["Authorization"] + "\t"}
    assert http.get("/admin/stats", headers=padded).status == 200


def test_admin_without_credentials_is_401_basic(http: Transport) -> None:
    skip_without_client_address(http)
    reply = http.get("/admin/stats")
    assert_problem(reply, 401)
    assert (reply.headers.get("www-authenticate") or "").startswith("Basic ")


@pytest.mark.parametrize(
    "credentials",
    [(ADMIN_USER, "wrong-password"), ("root", ADMIN_PASSWORDS[0]), (ADMIN_USER, "")],
    ids=["wrong-password", "unknown-user", "empty-password"],
)
def test_admin_refuses_bad_credentials_with_401_basic(
    http: Transport, credentials: tuple[str, str]
) -> None:
    skip_without_client_address(http)
    reply = http.get("/admin/stats", headers=basic(*credentials))
    assert_problem(reply, 401)
    assert (reply.headers.get("www-authenticate") or "").startswith("Basic ")


def test_admin_refuses_a_bearer_token_with_401_basic(http: Transport, issuer: Issuer) -> None:
    skip_without_client_address(http)
    reply = http.get("/admin/stats", headers=issuer.bearer("reports:read"))
    assert_problem(reply, 401)
    assert (reply.headers.get("www-authenticate") or "").startswith("Basic ")


def test_admin_unknown_path_is_behind_basic_auth(http: Transport) -> None:
    skip_without_client_address(http)
    assert_problem(http.get("/admin/secrets"), 401)


@pytest.mark.parametrize("kind", NO_CLIENT_ADDRESS)
def test_admin_behind_an_alb_is_403_without_a_client_address(
    transport_pool: Pool, kind: str
) -> None:
    reply = transport_pool.get(REFERENCE, kind).get("/admin/stats", headers=basic())
    assert_problem(reply, 403, "ip-not-allowed")


def _payload(token: str) -> bytes:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
