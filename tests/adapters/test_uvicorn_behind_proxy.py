"""The reference app under a real uvicorn behind a reverse proxy that ends TLS, deployed as
the docs say (``DALOY_TRUSTED_PROXIES`` names the proxy, uvicorn ``--no-proxy-headers``):
each request is the bytes nginx sends upstream with ``proxy_set_header`` for ``Host``,
``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Real-IP``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from daloy_edge_asgi import ASGIApp

from examples.secure_app import create_app
from tests.support.servers import raw_request, status_of
from tests.support.uvicorn_thread import serve

pytestmark = pytest.mark.slow

ENV = {
    "DALOY_ENV": "production",
    "DALOY_SESSION_KEYS": "proxy-session-key-0123456789abcdef",
    "DALOY_TRUSTED_PROXIES": "127.0.0.1/32",
}


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serve(ASGIApp(create_app(ENV)), proxy_headers=False, lifespan="on") as served:
        yield served


def from_nginx(method: str, path: str, fields: str = "", body: str = "") -> bytes:
    """A request as nginx passes on what a browser at 203.0.113.5 sent it over HTTPS
    (a browser that sends no Sec-Fetch-Site, so ``Origin`` decides)."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: app.example\r\n"
        "X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Proto: https\r\n"
        "X-Real-IP: 203.0.113.5\r\nConnection: close\r\n"
    )
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return f"{head}{fields}\r\n{body}".encode()


def signed_in(port: int) -> tuple[str, str]:
    """The session cookie of a sign-in and a CSRF token from the form it is shown."""
    login = raw_request(
        port,
        from_nginx(
            "POST",
            "/session/login",
            "Origin: https://app.example\r\nContent-Type: application/json\r\n",
            '{"user": "alice"}',
        ),
    )
    assert status_of(login) == 204
    cookie = re.search(rb"set-cookie: (__Host-session=[^;]+)", login, re.IGNORECASE)
    assert cookie is not None
    jar = cookie.group(1).decode()
    page = raw_request(port, from_nginx("GET", "/form", f"Cookie: {jar}\r\n"))
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return jar, token.group(1).decode()


def post_form(port: int, origin: str) -> int:
    jar, token = signed_in(port)
    fields = (
        f"Cookie: {jar}\r\nOrigin: {origin}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    )
    return status_of(raw_request(port, from_nginx("POST", "/form", fields, f"csrf_token={token}")))


def test_a_form_posted_from_the_https_site_behind_a_proxy_ending_tls_passes(port: int) -> None:
    # Read as the "http" uvicorn saw, the app's own origin was http://app.example, and
    # the browser's Origin https://app.example was refused as cross-site (403).
    assert post_form(port, "https://app.example") == 200


def test_a_form_posted_from_the_plain_http_origin_behind_a_proxy_ending_tls_is_refused(
    port: int,
) -> None:
    # The other way round, a page on http://app.example (a network attacker's, before
    # HSTS) passed the origin check of an HTTPS site as its own.
    assert post_form(port, "http://app.example") == 403
