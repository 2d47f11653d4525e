"""A page a handler answers as ``str`` under ``text/html`` alone, read by real headless
Chromium served by real uvicorn: the charset the response names is the one it is read in."""

from __future__ import annotations

import pytest
from daloy_edge_asgi import ASGIApp

from daloy_edge import App, Response
from daloy_edge.middleware.secure_headers import SecureHeaders
from tests.support.chromium import rendered_dom, serve

pytestmark = pytest.mark.slow

TEXT = "caf\u00e9 \u2014 \u65e5\u672c"


def test_asvs_4_1_1_a_str_page_typed_without_charset_reads_as_its_utf8_in_chromium() -> None:
    """Sent as UTF-8 under a bare ``text/html``, the page read as windows-1252:
    "café — 日本" showed as "cafÃ© â€” æ—¥æœ¬"."""
    app = App(env={}, middleware=[SecureHeaders()])

    @app.get("/page")
    async def page(request: object) -> Response:
        return Response(f"<!doctype html><title>t</title><p>{TEXT}</p>", media_type="text/html")

    with serve(ASGIApp(app)) as port:
        dom = rendered_dom(f"http://127.0.0.1:{port}/page")
    assert f"<p>{TEXT}</p>" in dom
