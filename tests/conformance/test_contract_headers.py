"""CONTRACT.md, behaviour every route shares: secure headers on every status, the CSP on
HTML only, request ids, HEAD, and BREACH-aware compression, on every transport."""

from __future__ import annotations

import gzip
import json

import pytest

from daloy_edge.middleware.compression import brotli_available
from tests.conformance.harness.checks import (
    PROBLEM,
    assert_secure_headers,
    resolves_dot_segments,
)
from tests.conformance.harness.client import Transport
from tests.conformance.harness.identity import session_cookie
from tests.conformance.harness.targets import CORS_ORIGIN, SESSION_KEYS

JSON = {"Content-Type": "application/json"}
CSP_DIRECTIVES = (
    "'strict-dynamic'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
)


def login(http: Transport) -> str:
    reply = http.post("/session/login", headers=JSON, body=b'{"user": "alice"}')
    assert reply.status == 204
    return reply.headers.get_all("set-cookie")[0].split(";", 1)[0]


# Requests answered with the status that names them.
EVERY_STATUS: dict[str, tuple[str, str, dict[str, str], bytes]] = {
    "200": ("GET", "/health", {}, b""),
    "204": (
        "OPTIONS",
        "/api/reports",
        {"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "POST"},
        b"",
    ),
    "400-rejected-path": ("GET", "/static/%2e%2e/secure_app.py", {}, b""),
    "400-unsafe-json": ("POST", "/session/login", JSON, b'{"user": "a", "user": "b"}'),
    "401": ("GET", "/api/me", {}, b""),
    "403": ("POST", "/session/logout", {"Sec-Fetch-Site": "cross-site"}, b""),
    "404": ("GET", "/no/such/route", {}, b""),
    "405": ("DELETE", "/health", {}, b""),
    "413": ("POST", "/session/login", JSON, b'{"user": "' + b"a" * 5000 + b'"}'),
    "415": ("POST", "/session/login", {"Content-Type": "text/plain"}, b"alice"),
    "431": ("GET", "/health", {f"x-filler-{i}": "f" * 7000 for i in range(5)}, b""),
    "500": ("GET", "/boom", {}, b""),
    "504": ("GET", "/slow?ms=3000", {}, b""),
}


# Where the platform resolves dot segments first, an encoded slash is what still arrives.
REJECTED_PATH_KEPT = "/static/..%2fsecure_app.py"


@pytest.mark.parametrize("name", list(EVERY_STATUS))
def test_every_response_carries_the_secure_headers(http: Transport, name: str) -> None:
    method, target, headers, body = EVERY_STATUS[name]
    if name == "400-rejected-path" and resolves_dot_segments(http):
        target = REJECTED_PATH_KEPT
    reply = http.request(method, target, headers=headers, body=body)
    assert reply.status == int(name[:3]), reply.body[:200]
    assert_secure_headers(reply)


@pytest.mark.parametrize("target", ["/health", "/no/such/route", "/boom", "/big", "/echo?msg=x"])
def test_non_html_responses_carry_no_csp(http: Transport, target: str) -> None:
    reply = http.get(target)
    assert "content-security-policy" not in reply.headers


def test_html_carries_the_strict_nonce_csp(http: Transport) -> None:
    reply = http.get("/form", headers={"Cookie": login(http)})
    assert reply.media_type == "text/html"
    csp = reply.headers.get("content-security-policy") or ""
    assert "script-src 'nonce-" in csp
    for directive in CSP_DIRECTIVES:
        assert directive in csp, directive
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_errors_are_problem_json_without_internals(http: Transport) -> None:
    reply = http.get("/boom")
    assert reply.media_type == PROBLEM
    problem = reply.json()
    assert isinstance(problem, dict)
    assert set(problem) <= {"type", "title", "status", "detail", "request_id"}
    for leak in ("Traceback", "RuntimeError", "secure_app", ".py", "boom:"):
        assert leak not in reply.text


def test_repeated_inbound_request_ids_are_replaced(http: Transport) -> None:
    if http.name == "lambda-alb":
        pytest.skip("an ALB without multi-value headers forwards only the last X-Request-Id")
    reply = http.get("/health", headers=[("X-Request-Id", "first-id"), ("X-Request-Id", "second")])
    assert reply.headers.get("x-request-id") not in ("first-id", "second", "first-id,second")
    assert len(reply.headers.get("x-request-id") or "") == 36


def test_x_request_id_of_128_safe_characters_is_kept(http: Transport) -> None:
    inbound = "a1-_.:" * 21 + "zz"
    assert len(inbound) == 128
    assert http.get("/health", headers={"X-Request-Id": inbound}).headers.get("x-request-id") == (
        inbound
    )


def test_x_request_id_is_kept_without_the_whitespace_around_it(http: Transport) -> None:
    # Every HTTP server strips it; event shapes and ASGI scopes must read alike.
    reply = http.get("/health", headers={"X-Request-Id": "\tpadded-id-1 "})
    assert reply.headers.get("x-request-id") == "padded-id-1"


# --- HEAD -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/health", "/static/hello.txt", "/big"])
def test_head_answers_the_get_headers_without_a_body(http: Transport, target: str) -> None:
    got = http.get(target)
    head = http.request("HEAD", target)
    assert head.status == got.status == 200
    assert head.body == b""
    assert head.headers.get("content-type") == got.headers.get("content-type")
    assert head.headers.get("content-length") == str(len(got.body))
    assert_secure_headers(head)


def test_head_of_big_carries_the_encoding_get_would_use(http: Transport) -> None:
    got = http.get("/big", headers={"Accept-Encoding": "gzip"})
    head = http.request("HEAD", "/big", headers={"Accept-Encoding": "gzip"})
    assert head.body == b""
    assert head.headers.get("content-encoding") == got.headers.get("content-encoding") == "gzip"
    assert head.headers.get("content-length") == str(len(got.body))


# --- compression ------------------------------------------------------------------------


def test_big_is_gzipped_when_asked(http: Transport) -> None:
    plain = http.get("/big")
    reply = http.get("/big", headers={"Accept-Encoding": "gzip"})
    assert reply.headers.get("content-encoding") == "gzip"
    assert "accept-encoding" in ",".join(reply.headers.get_all("vary")).lower()
    assert len(reply.body) < len(plain.body) // 5
    assert gzip.decompress(reply.body) == plain.body


@pytest.mark.skipif(not brotli_available(), reason="brotli is not installed")
def test_big_is_brotli_compressed_when_preferred(http: Transport) -> None:
    if http.name == "workers":
        pytest.skip("brotli (a C extension) is not in the Worker; it answers gzip instead")
    import brotli

    plain = http.get("/big")
    reply = http.get("/big", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert reply.headers.get("content-encoding") == "br"
    assert brotli.decompress(reply.body) == plain.body


def test_big_is_not_compressed_when_not_asked(http: Transport) -> None:
    reply = http.get("/big")
    assert "content-encoding" not in reply.headers
    assert json.loads(reply.body)["items"]


def test_big_is_not_compressed_when_gzip_is_refused(http: Transport) -> None:
    reply = http.get("/big", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in reply.headers


def test_big_is_not_compressed_when_gzip_is_given_a_weight_past_one(http: Transport) -> None:
    reply = http.get("/big", headers={"Accept-Encoding": "gzip;q=2"})
    assert reply.status == 200
    assert "content-encoding" not in reply.headers


def test_big_is_gzipped_when_gzip_is_asked_for_on_a_second_line(http: Transport) -> None:
    reply = http.get("/big", headers=[("Accept-Encoding", "identity"), ("Accept-Encoding", "gzip")])
    assert reply.headers.get("content-encoding") == "gzip"
    assert json.loads(gzip.decompress(reply.body))["items"]


def test_big_is_not_compressed_for_credentials_marked_same_origin_then_cross_site(
    http: Transport,
) -> None:
    # Runtimes that join repeated fields see "same-origin, cross-site" (not same-origin); an
    # ALB without multi-value headers keeps "cross-site".
    headers = [
        ("Authorization", "Bearer x"),
        ("Accept-Encoding", "gzip"),
        ("Sec-Fetch-Site", "same-origin"),
        ("Sec-Fetch-Site", "cross-site"),
    ]
    reply = http.get("/big", headers=headers)
    assert reply.status == 200
    assert "content-encoding" not in reply.headers


def test_big_left_uncompressed_for_a_cross_site_credentialed_request_still_varies(
    http: Transport,
) -> None:
    headers = {
        "Authorization": "Bearer x",
        "Sec-Fetch-Site": "cross-site",
        "Accept-Encoding": "gzip",
    }
    reply = http.get("/big", headers=headers)
    assert reply.status == 200
    assert "content-encoding" not in reply.headers
    assert "accept-encoding" in ",".join(reply.headers.get_all("vary")).lower()


@pytest.mark.parametrize("target", ["/health", "/echo?msg=short", "/static/hello.txt"])
def test_responses_under_1_kib_are_never_compressed(http: Transport, target: str) -> None:
    reply = http.get(target, headers={"Accept-Encoding": "gzip, br"})
    assert reply.status == 200
    assert len(reply.body) < 1024
    assert "content-encoding" not in reply.headers


def test_a_page_carrying_a_csrf_token_is_never_compressed(http: Transport) -> None:
    reply = http.get("/form", headers={"Cookie": login(http), "Accept-Encoding": "gzip, br"})
    assert reply.status == 200
    assert len(reply.body) >= 1024, "the form page must be large enough to be compressible"
    assert "content-encoding" not in reply.headers
    assert b"csrf_token" in reply.body


def test_a_response_that_sets_a_cookie_is_never_compressed(http: Transport) -> None:
    # A cookie signed by the older key is re-signed on the way out: /big then sets a cookie.
    old = session_cookie("alice", SESSION_KEYS[1])
    reply = http.get(
        "/big", headers={"Cookie": f"__Host-session={old}", "Accept-Encoding": "gzip, br"}
    )
    assert reply.status == 200
    assert reply.headers.get_all("set-cookie")
    assert "content-encoding" not in reply.headers
    assert json.loads(reply.body)["items"]
