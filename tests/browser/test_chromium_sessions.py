"""The reference app's session cookie and CSRF checks in real headless Chromium, under uvicorn.

The app listens on http://127.0.0.1:APP. Pages of another origin come from
http://127.0.0.1:PAGES (the same site: a site ignores the port, so SameSite=Lax cookies go
along) and http://localhost:PAGES (another site). One browser profile keeps the session
cookie from one page load to the next, as a user's browser does. The sign-in page is
served by a thin ASGI wrapper on the app's own origin (the app has no such page); every
other answer is the app's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from daloy_edge_asgi import ASGIApp

from examples.secure_app import create_app
from tests.support.chromium import loopback_socket, rendered_dom, serve

pytestmark = pytest.mark.slow

ENV = {"DALOY_SESSION_KEYS": "chromium-test-key-0123456789abcdef", "DALOY_ENV": "production"}

SIGN_IN = b"""<!doctype html><body><pre id="out"></pre><script>
const out = document.getElementById("out");
const note = (line) => { out.textContent += line + "\\n"; };
(async () => {
  let r = await fetch("/session/login", {method: "POST",
    headers: {"content-type": "application/json"}, body: JSON.stringify({user: "alice"})});
  note("login " + r.status);
  r = await fetch("/session/me");
  note("me " + r.status);
  const page = await (await fetch("/form")).text();
  const token = (page.match(/name="csrf_token" value="([^"]+)"/) || ["", ""])[1];
  r = await fetch("/form", {method: "POST", body: new URLSearchParams({csrf_token: token})});
  note("post " + r.status);
})();
</script></body>"""

WHO = b"""<!doctype html><body><pre id="out"></pre><script>
fetch("/session/me").then(async (r) => {
  document.getElementById("out").textContent = r.status + " " + await r.text();
});
</script></body>"""


def forged_form(action: str) -> bytes:
    """A page that posts a form to ``action`` as soon as it loads (text/plain, JSON-shaped)."""
    return (
        f'<!doctype html><body><form id="f" method="post" action="{action}"'
        ' enctype="text/plain"><input name=\'{"user":"mallory","x":"\' value=\'"}\'></form>'
        '<script>document.getElementById("f").submit();</script></body>'
    ).encode()


def no_cors_post(action: str) -> bytes:
    return (
        "<!doctype html><body><script>"
        f"fetch({json.dumps(action)}, {{method: 'POST', mode: 'no-cors', credentials: 'include'}});"
        "</script></body>"
    ).encode()


def pages(answers: dict[str, bytes]) -> object:
    """An ASGI app answering each path of ``answers`` with that HTML."""

    async def app(scope, receive, send):
        body = answers.get(scope["path"], b"")
        headers = [(b"content-type", b"text/html")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def with_probes(app: ASGIApp) -> object:
    """``app`` with the sign-in and who-am-I pages on its own origin."""
    probes = pages({"/probe/sign-in": SIGN_IN, "/probe/who": WHO})

    async def wrapped(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/probe/"):
            return await probes(scope, receive, send)
        return await app(scope, receive, send)

    return wrapped


ACTIONS = ("/session/logout", "/session/login", "/form")


@pytest.fixture(scope="module")
def ports() -> Iterator[tuple[int, int]]:
    app_socket, pages_socket = loopback_socket(), loopback_socket()
    app_port, pages_port = app_socket.getsockname()[1], pages_socket.getsockname()[1]
    attacks = {}
    for action in ACTIONS:
        target = f"http://127.0.0.1:{app_port}{action}"
        attacks[f"/form{action}"] = forged_form(target)
        attacks[f"/no-cors{action}"] = no_cors_post(target)
    with (
        serve(with_probes(ASGIApp(create_app(ENV))), app_socket),
        serve(pages(attacks), pages_socket),
    ):
        yield app_port, pages_port


def output(dom: str) -> str:
    match = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert match is not None, dom
    return match.group(1).strip()


def sign_in(url: str, profile: str, flags: tuple[str, ...] = ()) -> str:
    return output(rendered_dom(url + "/probe/sign-in", profile=profile, flags=flags))


@pytest.fixture
def signed_in(ports, tmp_path) -> str:
    """A browser profile holding alice's session cookie for http://127.0.0.1:APP."""
    profile = str(tmp_path / "profile")
    assert sign_in(f"http://127.0.0.1:{ports[0]}", profile).endswith("post 200")
    return profile


def who(ports, profile: str) -> str:
    return output(rendered_dom(f"http://127.0.0.1:{ports[0]}/probe/who", profile=profile))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_secure_host_cookie_is_kept_over_plain_http_on_loopback(ports, tmp_path, host):
    # Chromium holds loopback as a secure context: the __Host-session cookie (Secure) set
    # over plain HTTP is kept, so signing in and the same-origin form work in development.
    profile = str(tmp_path / "profile")
    steps = sign_in(f"http://{host}:{ports[0]}", profile).splitlines()
    assert steps == ["login 204", "me 200", "post 200"]


def test_secure_host_cookie_is_dropped_over_plain_http_on_another_name(ports, tmp_path):
    # The name resolves to 127.0.0.1 inside the browser alone; over plain HTTP it is no
    # secure context, so the browser drops the cookie and the sign-in does not hold.
    rule = "--host-resolver-rules=MAP dev.test 127.0.0.1"
    steps = sign_in(f"http://dev.test:{ports[0]}", str(tmp_path / "p"), (rule,))
    assert steps.splitlines() == ["login 204", "me 401", "post 403"]


@pytest.mark.parametrize(
    ("host", "action"),
    [("127.0.0.1", "/session/logout"), ("127.0.0.1", "/form"), ("localhost", "/session/login")],
)
def test_form_posted_from_another_origin_is_refused(ports, signed_in, host, action):
    # From 127.0.0.1:PAGES (same site) the Lax session cookie goes along; from localhost
    # (another site) it does not. Chromium's Sec-Fetch-Site refuses both before any token.
    dom = rendered_dom(f"http://{host}:{ports[1]}/form{action}", profile=signed_in)
    assert "urn:daloy-edge:problem:csrf-failed" in dom
    assert who(ports, signed_in) == '200 {"user":"alice"}'


def test_no_cors_fetch_from_the_same_site_does_not_sign_out(ports, signed_in):
    rendered_dom(f"http://127.0.0.1:{ports[1]}/no-cors/session/logout", profile=signed_in)
    assert who(ports, signed_in) == '200 {"user":"alice"}'
