"""The reference app's /form page in real headless Chromium, served by real uvicorn.

A small ASGI wrapper plays the attacker's part: it adds the victim's session cookie to the
request (so no sign-in page is needed) and injects
two scripts into the HTML the app produced, leaving the app's own headers untouched:
an inline script without the nonce (a stored XSS payload) and a probe carrying the
response's nonce that writes a string into an ``innerHTML`` sink. Chromium then enforces
the app's real Content-Security-Policy.
"""

from __future__ import annotations

import re

import pytest
from daloy_edge_asgi import ASGIApp

from daloy_edge import App, Response, static_files
from daloy_edge.middleware.secure_headers import SecureHeaders, SecureHeadersConfig
from daloy_edge.testing import TestClient
from examples.secure_app import create_app
from tests.support.chromium import rendered_dom, serve

pytestmark = pytest.mark.slow

ENV = {"DALOY_SESSION_KEYS": "chromium-test-key-0123456789abcdef", "DALOY_ENV": "production"}

INJECTED = b"<script>document.body.setAttribute('data-injected', 'ran');</script>"
PROBE = (
    '<script nonce="{nonce}">'
    "try {{ document.getElementById('status').innerHTML = '<b>x</b>';"
    " document.body.setAttribute('data-sink', 'allowed'); }}"
    " catch (e) {{ document.body.setAttribute('data-sink', 'blocked-' + e.name); }}"
    "</script>"
)
NONCE = re.compile(r"'nonce-([A-Za-z0-9_\-+/=]+)'")


class Attacker:
    """ASGI middleware: adds a session cookie, injects scripts, optionally drops the CSP."""

    def __init__(self, app: ASGIApp, cookie: str, *, strip_csp: bool) -> None:
        self.app, self.cookie, self.strip_csp = app, cookie, strip_csp

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope = dict(scope)
        scope["headers"] = [*scope["headers"], (b"cookie", self.cookie.encode())]
        start: dict[str, object] = {}
        chunks: list[bytes] = []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return None
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return None
            return await self._send(start, b"".join(chunks), send)

        await self.app(scope, receive, capture)

    async def _send(self, start, body, send):
        headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
        csp = dict(headers).get(b"content-security-policy", b"").decode()
        nonce = NONCE.search(csp)
        if nonce and b"</body>" in body:
            probe = PROBE.format(nonce=nonce.group(1)).encode()
            body = body.replace(b"</body>", INJECTED + probe + b"</body>")
        if self.strip_csp:
            headers = [(k, v) for k, v in headers if k != b"content-security-policy"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def session_cookie() -> str:
    client = TestClient(create_app(ENV))
    assert client.post("/session/login", json={"user": "alice"}).status == 204
    return f"__Host-session={client.cookies['__Host-session']}"


def body_attributes(dom: str) -> str:
    match = re.search(r"<body([^>]*)>", dom)
    assert match is not None, dom
    return match.group(1)


@pytest.fixture(scope="module")
def protected_dom() -> str:
    app = Attacker(ASGIApp(create_app(ENV)), session_cookie(), strip_csp=False)
    with serve(app) as port:
        return rendered_dom(f"http://127.0.0.1:{port}/form")


@pytest.fixture(scope="module")
def unprotected_dom() -> str:
    app = Attacker(ASGIApp(create_app(ENV)), session_cookie(), strip_csp=True)
    with serve(app) as port:
        return rendered_dom(f"http://127.0.0.1:{port}/form")


def test_nonced_script_of_the_form_page_runs(protected_dom):
    assert 'data-script="ran"' in protected_dom
    assert "Scripts are on." in protected_dom


def test_injected_inline_script_without_the_nonce_does_not_run(protected_dom):
    assert "data-injected" not in body_attributes(protected_dom)


def test_trusted_types_block_a_string_written_to_inner_html(protected_dom):
    assert 'data-sink="blocked-TypeError"' in body_attributes(protected_dom)


def test_control_without_the_policy_the_injected_script_and_sink_work(unprotected_dom):
    attributes = body_attributes(unprotected_dom)
    assert 'data-injected="ran"' in attributes
    assert 'data-sink="allowed"' in attributes


STYLESHEET = (
    b'<?xml version="1.0"?>'
    b'<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
    b"<xsl:template match='/'><p>Sitemap</p></xsl:template>"
    b"<script>document.documentElement.setAttribute('data-injected', 'ran');</script>"
    b"</xsl:stylesheet>"
)


def stylesheet_dom(config: SecureHeadersConfig) -> str:
    """An XSLT stylesheet holding an injected script, sent as ``text/xsl``, in Chromium."""
    app = App(env={}, request_log=False, middleware=[SecureHeaders(config)])

    @app.get("/sitemap.xsl")
    async def stylesheet(request):
        return Response(STYLESHEET, media_type="text/xsl")

    with serve(ASGIApp(app)) as port:
        return rendered_dom(f"http://127.0.0.1:{port}/sitemap.xsl")


def root_attributes(dom: str) -> str:
    match = re.search(r"<(?:html|xsl:stylesheet)([^>]*)>", dom)
    assert match is not None, dom
    return match.group(1)


def test_script_injected_into_a_text_xsl_stylesheet_does_not_run():
    # Chromium renders text/xsl as a page and runs its scripts: with the CSP given to
    # HTML, SVG and XML answers alone, the stylesheet's injected script ran.
    assert "data-injected" not in root_attributes(stylesheet_dom(SecureHeadersConfig()))


def test_control_without_the_policy_a_text_xsl_stylesheet_runs_its_script():
    dom = stylesheet_dom(SecureHeadersConfig(csp=False))
    assert 'data-injected="ran"' in root_attributes(dom)


def test_static_html_page_runs_no_script_of_its_own(tmp_path):
    # The policy's nonce is drawn for each answer and a file cannot carry it, so neither
    # the page's inline script nor a script of its own folder runs (docs/security/defaults.md).
    (tmp_path / "page.html").write_text(
        '<!doctype html><body><p id="loaded">static</p><script src="/static/app.js"></script>'
        "<script>document.body.setAttribute('data-inline', 'ran');</script></body>"
    )
    (tmp_path / "app.js").write_text("document.body.setAttribute('data-src', 'ran');")
    app = App(env={}, request_log=False, middleware=[SecureHeaders()])
    app.add_route("/static/{path:path}", static_files(tmp_path))
    with serve(ASGIApp(app)) as port:
        dom = rendered_dom(f"http://127.0.0.1:{port}/static/page.html")
    assert '<p id="loaded">static</p>' in dom
    assert "data-" not in body_attributes(dom)


LISTED_TYPES = [
    [("content-type", "text/plain, text/html")],
    [("content-type", "application/json"), ("content-type", "text/html")],
]


def listed_types_dom(fields: list[tuple[str, str]], config: SecureHeadersConfig) -> str:
    """A page holding an injected script, sent with a Content-Type listing two types."""
    app = App(env={}, request_log=False, middleware=[SecureHeaders(config)])

    @app.get("/upstream")
    async def passed_on(request):
        script = "<script>document.body.setAttribute('data-injected', 'ran');</script>"
        return Response(f"<!doctype html><body><p>upstream</p>{script}</body>", headers=fields)

    with serve(ASGIApp(app)) as port:
        return rendered_dom(f"http://127.0.0.1:{port}/upstream")


@pytest.mark.parametrize("fields", LISTED_TYPES)
def test_script_in_an_answer_whose_content_type_lists_html_last_does_not_run(fields):
    # Chromium renders by the last type it can parse; only the first was read to decide
    # whether the answer needed the CSP, so the injected script ran.
    dom = listed_types_dom(fields, SecureHeadersConfig())
    assert "<p>upstream</p>" in dom
    assert "data-injected" not in body_attributes(dom)


def test_control_without_the_policy_a_listed_html_type_runs_its_script():
    dom = listed_types_dom(LISTED_TYPES[1], SecureHeadersConfig(csp=False))
    assert 'data-injected="ran"' in body_attributes(dom)


def reflected_text_dom(headers: dict[str, str]) -> str:
    """A page an app without SecureHeaders answers with a str body that reflects input."""
    app = App(env={}, request_log=False)

    @app.get("/hello")
    async def hello(request):
        script = "<script>document.body.setAttribute('data-injected', 'ran');</script>"
        return Response(f"<!doctype html><body><p>hello</p>{script}</body>", headers=headers)

    with serve(ASGIApp(app)) as port:
        return rendered_dom(f"http://127.0.0.1:{port}/hello")


def test_a_str_answer_without_a_type_is_text_not_a_page_that_runs_scripts():
    """A str body went out without Content-Type, and a browser sniffs one (RFC 9110, 8.3;
    MIME Sniffing, 7): without SecureHeaders' nosniff, Chromium ran the reflected
    script as an HTML page's. It is sent as text/plain; charset=utf-8."""
    dom = reflected_text_dom({})
    assert "data-injected" not in body_attributes(dom)
    assert "&lt;script&gt;" in dom


def test_control_a_str_answer_declared_html_runs_its_script():
    dom = reflected_text_dom({"content-type": "text/html; charset=utf-8"})
    assert 'data-injected="ran"' in body_attributes(dom)


def framed_dom(frame_options: str) -> str:
    """A page of the app framing another page of the app, under ``frame_options``."""
    config = SecureHeadersConfig(frame_options=frame_options)
    app = App(env={}, request_log=False, middleware=[SecureHeaders(config)])

    @app.get("/outer")
    async def outer(request):
        # The framed document is readable only if it loaded: a refused frame holds an
        # error page of another origin.
        return Response.html(
            '<!doctype html><body><iframe id="inner" src="/inner"></iframe>'
            f'<script nonce="{request.csp_nonce}">'
            "document.getElementById('inner').addEventListener('load', (event) => {"
            " let shown; try { shown = event.target.contentDocument.body.dataset.inner; }"
            " catch (e) { shown = 'refused'; }"
            " document.body.setAttribute('data-framed', shown || 'refused'); });"
            "</script></body>"
        )

    @app.get("/inner")
    async def inner(request):
        return Response.html('<!doctype html><body data-inner="shown"></body>')

    with serve(ASGIApp(app)) as port:
        return rendered_dom(f"http://127.0.0.1:{port}/outer")


def test_frame_options_sameorigin_lets_the_app_frame_its_own_page():
    # The policy's frame-ancestors 'none' overrides X-Frame-Options in Chromium: a page
    # framing another page of the same origin showed an error page in the frame.
    assert 'data-framed="shown"' in body_attributes(framed_dom("SAMEORIGIN"))


def test_control_frame_options_deny_refuses_the_apps_own_frame():
    assert 'data-framed="refused"' in body_attributes(framed_dom("DENY"))


def styled_dom(config: SecureHeadersConfig) -> dict[str, str]:
    """The color Chromium gave each paragraph of a page styled four ways."""
    app = App(env={}, request_log=False, middleware=[SecureHeaders(config)])

    @app.get("/app.css")
    async def stylesheet(request):
        return Response("#linked { color: rgb(0, 0, 255) }", media_type="text/css")

    @app.get("/")
    async def page(request):
        nonce = request.csp_nonce
        return Response.html(
            '<!doctype html><head><link rel="stylesheet" href="/app.css">'
            "<style>#plain { color: rgb(255, 0, 0) }</style>"
            f'<style nonce="{nonce}">#nonced {{ color: rgb(0, 128, 0) }}</style></head><body>'
            '<p id="plain">a</p><p id="nonced">b</p><p id="attr" style="color: rgb(1, 2, 3)">c</p>'
            f'<p id="linked">d</p><pre id="out"></pre><script nonce="{nonce}">'
            "document.getElementById('out').textContent = ['plain', 'nonced', 'attr', 'linked']"
            ".map((id) => id + '=' + getComputedStyle(document.getElementById(id)).color)"
            ".join(';');</script></body>"
        )

    with serve(ASGIApp(app)) as port:
        dom = rendered_dom(f"http://127.0.0.1:{port}/")
    found = re.search(r'<pre id="out">(.*?)</pre>', dom)
    assert found is not None, dom
    return dict(pair.split("=") for pair in found.group(1).split(";"))


def test_inline_styles_do_not_apply_under_the_default_policy_nonce_or_not():
    # The policy names no style-src, so default-src 'self' governs styles: a stylesheet of
    # the app's own origin applies; a <style> element, one carrying the script nonce
    # included, and a style attribute do not (docs/security/secure-headers.md).
    colors = styled_dom(SecureHeadersConfig())
    assert colors["linked"] == "rgb(0, 0, 255)"
    assert colors["plain"] == colors["nonced"] == colors["attr"] == "rgb(0, 0, 0)"


def test_control_inline_styles_apply_with_a_style_src_allowing_them():
    colors = styled_dom(SecureHeadersConfig(csp_directives=("style-src 'self' 'unsafe-inline'",)))
    assert colors == {
        "plain": "rgb(255, 0, 0)",
        "nonced": "rgb(0, 128, 0)",
        "attr": "rgb(1, 2, 3)",
        "linked": "rgb(0, 0, 255)",
    }
