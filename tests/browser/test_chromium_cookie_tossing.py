"""Cookie tossing against a session cookie of a name without the ``__Host-`` prefix, in real
headless Chromium under uvicorn.

The browser resolves ``*.site.test`` to 127.0.0.1 (a flag, no DNS): the app answers at
http://app.site.test:APP, the attacker's page at http://evil.site.test:PAGES, a sibling
subdomain of the same registrable domain. Plain HTTP on such a name is no secure context,
so the app runs with ``insecure_http_cookies`` under its own name, ``sid``: what matters is
the missing prefix, which lets the sibling plant a cookie of that name with ``Domain=``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from daloy_edge_asgi import ASGIApp

from daloy_edge import App, KeyRing
from daloy_edge.middleware.sessions import Session, SessionConfig, Sessions, get_session
from tests.support.chromium import loopback_socket, rendered_dom, serve

pytestmark = pytest.mark.slow

RESOLVE = "--host-resolver-rules=MAP *.site.test 127.0.0.1"


def session_app() -> tuple[Sessions, App]:
    config = SessionConfig(
        keys=KeyRing(["tossing-test-key-0123456789abcdef"]),
        cookie_name="sid",
        insecure_http_cookies=True,
        allow_no_csrf=True,
    )
    sessions = Sessions(config)
    app = App(middleware=[sessions])

    @app.get("/login")
    async def login(request):
        session = get_session(request)
        session.regenerate()
        session["user"] = request.query.get("user")
        return {"user": session["user"]}

    @app.get("/me")
    async def me(request):
        return {"user": get_session(request).get("user")}

    return sessions, app


def planting_page(value: str) -> bytes:
    """The sibling's page: a ``sid`` cookie for the whole registrable domain (kept past the
    browser's exit, as each page load here is a browser run of its own)."""
    cookie = f"sid={value}; Domain=site.test; Path=/; Max-Age=3600"
    script = f"document.cookie = {json.dumps(cookie)}; document.body.textContent = 'planted';"
    return f"<!doctype html><body><script>{script}</script></body>".encode()


def page(body: bytes) -> object:
    async def app(scope, receive, send):
        headers = [(b"content-type", b"text/html")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[str, str]]:
    sessions, app = session_app()
    # What mallory's own sign-in on the app gave her: a valid session of her own.
    mallory = Session.fresh(lambda: "m" * 22, lambda: int(time.time()))
    mallory["user"] = "mallory"
    app_socket, pages_socket = loopback_socket(), loopback_socket()
    with (
        serve(ASGIApp(app), app_socket),
        serve(page(planting_page(sessions.encode(mallory))), pages_socket),
    ):
        yield (
            f"http://app.site.test:{app_socket.getsockname()[1]}",
            f"http://evil.site.test:{pages_socket.getsockname()[1]}",
        )


def user_seen(url: str, profile: str) -> object:
    dom = rendered_dom(url, profile=profile, flags=(RESOLVE,))
    match = re.search(r"\{.*\}", dom)
    assert match is not None, dom
    return json.loads(match.group(0))["user"]


def test_a_planted_session_never_becomes_the_session(sites, tmp_path) -> None:
    """The browser sends the planted cookie beside the user's own: no session. Deleting
    the user's own in that answer left the planted one alone, signing the user in as
    mallory on the next page."""
    app_url, evil_url = sites
    profile = str(tmp_path / "profile")
    assert user_seen(f"{app_url}/login?user=alice", profile) == "alice"
    assert "planted" in rendered_dom(evil_url, profile=profile, flags=(RESOLVE,))
    assert user_seen(f"{app_url}/me", profile) is None
    assert user_seen(f"{app_url}/me", profile) is None
