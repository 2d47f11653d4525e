from __future__ import annotations

import pytest

from daloy_edge import App, ConfigError, Response
from daloy_edge.middleware.secure_headers import (
    DEFAULT_PERMISSIONS_POLICY,
    SecureHeaders,
    SecureHeadersConfig,
)
from daloy_edge.testing import TestClient, TestResponse


def make_app(config: SecureHeadersConfig | None = None) -> App:
    app = App(middleware=[SecureHeaders(config)])

    @app.get("/page")
    async def page(request):
        return Response.html(f'<script nonce="{request.csp_nonce}"></script>')

    @app.get("/data")
    async def data(request):
        response = Response.json({"ok": True})
        response.headers["server"] = "gunicorn/1.0"
        response.headers["x-powered-by"] = "PHP"
        return response

    @app.get("/boom")
    async def boom(request):
        raise RuntimeError("boom")

    @app.get("/own")
    async def own(request):
        return Response.text("x", headers={"referrer-policy": "no-referrer"})

    return app


def test_json_response_gets_the_static_headers():
    headers = TestClient(make_app()).get("/data").headers
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-resource-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "camera=()" in headers["permissions-policy"]


def test_server_and_powered_by_are_removed():
    headers = TestClient(make_app()).get("/data").headers
    assert "server" not in headers and "x-powered-by" not in headers


def test_csp_is_only_on_html():
    client = TestClient(make_app())
    assert "content-security-policy" in client.get("/page").headers
    assert "content-security-policy" not in client.get("/data").headers


def test_csp_nonce_matches_the_script_and_is_fresh_per_request():
    client = TestClient(make_app())
    first, second = client.get("/page"), client.get("/page")
    nonce = first.text.split('nonce="')[1].split('"')[0]
    assert f"'nonce-{nonce}'" in first.headers["content-security-policy"]
    assert first.headers["content-security-policy"] != second.headers["content-security-policy"]


def test_csp_has_the_strict_directives():
    csp = TestClient(make_app()).get("/page").headers["content-security-policy"]
    for directive in (
        "'strict-dynamic'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp


def test_error_responses_get_the_headers():
    response = TestClient(make_app()).get("/boom")
    assert response.status == 500
    assert response.headers["x-content-type-options"] == "nosniff"


def test_requests_rejected_before_middleware_still_get_the_headers():
    response = TestClient(make_app()).get("/a/%2e%2e/b")
    assert response.status == 400
    assert "strict-transport-security" in response.headers


def test_header_set_by_the_handler_is_kept():
    assert TestClient(make_app()).get("/own").headers["referrer-policy"] == "no-referrer"


STATIC = [
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("permissions-policy", DEFAULT_PERMISSIONS_POLICY),
    ("x-frame-options", "DENY"),
]


@pytest.mark.parametrize(
    "own",
    [
        [],
        [("x-other", "1")],
        [("server", "gunicorn")],
        [("referrer-policy", "no-referrer")],
        [("content-security-policy", "default-src 'self'")],
    ],
)
@pytest.mark.parametrize("html", [False, True])
def test_fields_follow_the_handlers_in_order(own, html):
    app = App(middleware=[SecureHeaders()], request_log=False)

    @app.get("/own")
    async def handler(request):
        if html:
            return Response.html("<p>x</p>", headers=own)
        return Response.json({}, headers=own)

    fields = TestClient(app).get("/own").headers.items()
    fields = [f for f in fields if f[0] not in ("x-request-id", "server-timing", "content-length")]
    made = (Response.html("", headers=own) if html else Response.json({}, headers=own)).headers
    kept = [f for f in made.items() if f[0] not in ("server", "x-powered-by")]
    names = {name for name, _ in kept}
    expected = kept + [f for f in STATIC if f[0] not in names]
    if html and "content-security-policy" not in names:
        assert fields[:-1] == expected
        assert fields[-1][0] == "content-security-policy"
        assert "'nonce-" in fields[-1][1]
    else:
        assert fields == expected


def test_report_only_mode_and_reporting_endpoint():
    config = SecureHeadersConfig(csp_report_only=True, report_to="https://r.example/csp")
    headers = TestClient(make_app(config)).get("/page").headers
    assert "content-security-policy" not in headers
    assert "report-to csp-endpoint" in headers["content-security-policy-report-only"]
    assert headers["reporting-endpoints"] == 'csp-endpoint="https://r.example/csp"'


def test_trusted_types_policy_names_are_listed():
    config = SecureHeadersConfig(trusted_types_policies=("app", "dompurify"))
    csp = TestClient(make_app(config)).get("/page").headers["content-security-policy"]
    assert "trusted-types app dompurify" in csp


def test_an_empty_trusted_types_policy_list_lets_scripts_create_none():
    config = SecureHeadersConfig(trusted_types_policies=())
    csp = TestClient(make_app(config)).get("/page").headers["content-security-policy"]
    assert "trusted-types 'none'" in csp.split("; ")


def test_trusted_types_turned_off_leaves_both_directives_out_of_the_policy():
    # An app whose scripts still write HTML strings opts out: a policy that kept
    # require-trusted-types-for broke each such page.
    config = SecureHeadersConfig(trusted_types=False, trusted_types_policies=("app",))
    csp = TestClient(make_app(config)).get("/page").headers["content-security-policy"]
    assert "trusted-types" not in csp
    assert "object-src 'none'" in csp


def test_csp_turned_off_sends_no_policy_on_a_page_but_keeps_the_other_headers():
    # An app that sets its CSP at the CDN: a second policy here would be enforced too.
    response = TestClient(make_app(SecureHeadersConfig(csp=False))).get("/page")
    assert "content-security-policy" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_frame_options_none_sends_no_x_frame_options_header():
    # Opted out (a page framed by a partner under its own frame-ancestors directive): no
    # field, not one whose value is None.
    headers = TestClient(make_app(SecureHeadersConfig(frame_options=None))).get("/data").headers
    assert "x-frame-options" not in headers
    assert headers["x-content-type-options"] == "nosniff"


def directives(policy: str) -> dict[str, list[str]]:
    """A serialized policy as its directives: name (lowered) -> sources (CSP 3, 2.2.1)."""
    parsed: dict[str, list[str]] = {}
    for text in policy.split(";"):
        tokens = text.split()
        if tokens:
            parsed.setdefault(tokens[0].lower(), tokens[1:])
    return parsed


@pytest.mark.parametrize(
    ("frame_options", "ancestors"),
    [("SAMEORIGIN", ["'self'"]), ("DENY", ["'none'"]), (None, ["'none'"])],
)
def test_frame_ancestors_allows_what_x_frame_options_allows(frame_options, ancestors):
    """A browser with frame-ancestors ignores X-Frame-Options: under a fixed 'none',
    frame_options="SAMEORIGIN" let no page of the app frame another (Chromium)."""
    response = TestClient(make_app(SecureHeadersConfig(frame_options=frame_options))).get("/page")
    assert directives(response.headers["content-security-policy"])["frame-ancestors"] == ancestors
    assert response.headers.get("x-frame-options") == frame_options


def test_csp_for_gives_the_policy_a_page_with_that_nonce_is_sent():
    middleware = SecureHeaders()
    response = Response.html("<p>x</p>")
    middleware.apply(response, "abc123")
    assert middleware.csp_for("abc123") == response.headers["content-security-policy"]
    assert "'nonce-abc123'" in middleware.csp_for("abc123")


def test_coep_is_opt_in():
    assert "cross-origin-embedder-policy" not in TestClient(make_app()).get("/data").headers
    config = SecureHeadersConfig(coep="require-corp")
    headers = TestClient(make_app(config)).get("/data").headers
    assert headers["cross-origin-embedder-policy"] == "require-corp"


@pytest.mark.parametrize(
    "config",
    [
        {"csp_directives": ("script-src *",)},
        {"csp_directives": ("img-src 'self'; script-src *",)},
        {"trusted_types_policies": ("bad name",)},
        {"report_to": "javascript:alert(1)"},
        {"referrer_policy": "no-referrer\r\nx: y"},
        {"hsts_preload": True, "hsts_max_age": 60},
        {"hsts_preload": True, "hsts_max_age": 31535999},
        {"hsts_preload": True, "hsts_include_subdomains": False},
    ],
)
def test_unsafe_configuration_refuses_to_build(config):
    with pytest.raises(ConfigError):
        SecureHeadersConfig(**config)


@pytest.mark.parametrize("max_age", [float("nan"), 0.5, 3.15e7, True, "31536000"])
def test_an_hsts_max_age_browsers_would_ignore_refuses_to_build(max_age):
    # "max-age=nan" (or 0.5, 31536000.0, True) is no delta-seconds: the header was sent,
    # and browsers dropped it, leaving HSTS off.
    with pytest.raises(ConfigError, match="hsts_max_age"):
        SecureHeadersConfig(hsts_max_age=max_age)


def test_hsts_preload_builds_with_exactly_one_year_the_preload_list_minimum():
    config = SecureHeadersConfig(hsts_preload=True, hsts_max_age=31536000)
    headers = TestClient(make_app(config)).get("/data").headers
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"


def test_hsts_max_age_zero_builds_and_is_sent_so_a_site_can_withdraw_hsts():
    # RFC 6797 6.1.1: max-age=0 tells a browser to forget the host's HSTS policy, the one
    # way a site leaving HTTPS undoes it; refusing 0 left no way to send it.
    config = SecureHeadersConfig(hsts_max_age=0, hsts_include_subdomains=False)
    headers = TestClient(make_app(config)).get("/data").headers
    assert headers["strict-transport-security"] == "max-age=0"


@pytest.mark.parametrize(
    "config", [{"csp_directives": "img-src 'self' data:"}, {"trusted_types_policies": "app"}]
)
def test_a_list_given_as_one_string_refuses_to_build(config):
    with pytest.raises(ConfigError, match="not one string"):
        SecureHeadersConfig(**config)


@pytest.mark.parametrize(
    "config",
    [
        {"coop": "same-origin\r\nset-cookie: planted=1"},
        {"corp": "cross-origin, same-origin"},
        {"coep": "require_corp"},
        {"frame_options": "ALLOW-FROM https://evil.example"},
    ],
)
def test_a_value_outside_a_headers_choices_refuses_to_build(config):
    with pytest.raises(ConfigError, match="must be one of"):
        SecureHeadersConfig(**config)


@pytest.mark.parametrize(
    "directive",
    [
        "script-src-elem 'unsafe-inline'",
        "script-src-attr 'unsafe-inline'",
        "Script-Src *",
        "OBJECT-SRC *",
        "form-action https://elsewhere.example",
        "default-src *",
    ],
)
def test_a_directive_that_would_replace_or_repeat_the_strict_policy_refuses_to_build(directive):
    with pytest.raises(ConfigError, match="fixed by the strict policy"):
        SecureHeadersConfig(csp_directives=(directive,))


def test_nonce_is_24_base64url_characters_each_from_one_random_byte():
    asked: list[int] = []

    def random_bytes(size: int) -> bytes:
        asked.append(size)
        return bytes(range(size))

    client = TestClient(make_app(SecureHeadersConfig(random_bytes=random_bytes)))
    nonce = client.get("/page").text.split('nonce="')[1].split('"')[0]
    assert asked == [24]
    assert nonce == "ABCDEFGHIJKLMNOPQRSTUVWX"


def test_the_nonce_is_drawn_only_when_read_or_for_an_html_answer():
    asked: list[int] = []

    def random_bytes(size: int) -> bytes:
        asked.append(size)
        return bytes(range(size))

    app = make_app(SecureHeadersConfig(random_bytes=random_bytes))

    @app.get("/quiet-page")
    async def quiet_page(request):
        return Response.html("<p>no scripts</p>")

    @app.get("/cleared")
    async def cleared(request):
        request.csp_nonce = None
        return Response.html("<p>cleared</p>")

    @app.get("/own-nonce")
    async def own_nonce(request):
        request.csp_nonce = "handler-chosen"
        return Response.html('<script nonce="handler-chosen"></script>')

    client = TestClient(app)
    assert client.get("/data").status == 200
    assert asked == []  # a JSON answer draws none
    page = client.get("/page")
    nonce = page.text.split('nonce="')[1].split('"')[0]
    assert asked == [24]  # read by the handler: drawn once, the same in the header
    assert f"'nonce-{nonce}'" in page.headers["content-security-policy"]
    for path in ("/quiet-page", "/cleared"):
        asked.clear()
        csp = client.get(path).headers["content-security-policy"]
        assert asked == [24] and "'nonce-ABCDEFGHIJKLMNOPQRSTUVWX'" in csp
    asked.clear()
    csp = client.get("/own-nonce").headers["content-security-policy"]
    assert asked == [] and "'nonce-handler-chosen'" in csp


def test_a_page_carrying_the_nonce_is_no_store_so_a_shared_cache_cannot_serve_one_nonce_to_all():
    """Cached by a CDN (a default TTL for an answer without Cache-Control), the page and its
    policy went to every visitor with one nonce, known to anyone who fetched it."""
    app = make_app()

    @app.get("/own-nonce")
    async def own_nonce(request):
        request.csp_nonce = "handler-chosen"
        return Response.html('<script nonce="handler-chosen"></script>')

    @app.get("/quiet-page")
    async def quiet_page(request):
        return Response.html("<p>no scripts</p>")

    @app.get("/cached-page")
    async def cached_page(request):
        page = f'<script nonce="{request.csp_nonce}"></script>'
        return Response.html(page, headers={"cache-control": "private, max-age=60"})

    client = TestClient(app)
    for path in ("/page", "/own-nonce"):
        assert client.get(path).headers.get_all("cache-control") == ["no-store"], path
    assert "cache-control" not in client.get("/quiet-page").headers
    assert client.get("/cached-page").headers.get_all("cache-control") == ["private, max-age=60"]


def test_nonce_characters_are_uniform_over_byte_values():
    from collections import Counter

    from daloy_edge.middleware.secure_headers import _BASE64URL

    counts = Counter(bytes(range(256)).translate(_BASE64URL).decode("ascii"))
    assert len(counts) == 64 and set(counts.values()) == {4}
    assert set(counts) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _texts(seed: int, alphabet: str, prefixes: list[str]) -> list[str]:
    import random

    rng = random.Random(seed)
    return [
        rng.choice(prefixes) + "".join(rng.choices(alphabet, k=rng.randint(0, 10)))
        for _ in range(4000)
    ]


def _accepted(**config: object) -> bool:
    try:
        SecureHeadersConfig(**config)  # type: ignore[arg-type]
    except ConfigError:
        return False
    return True


def test_policy_names_accepted_as_before_but_no_trailing_newline():
    import re

    oracle = re.compile(r"^[A-Za-z0-9\-#=_/@.%]+$")
    alphabet = "aZ09-#=_/@.%'\" ;,*\t\n\r\x00é\u212a"
    for name in [*_texts(1, alphabet, [""]), "app\n", "app", "#x=/@.%"]:
        expected = oracle.match(name) is not None and not name.endswith("\n")
        assert _accepted(trusted_types_policies=(name,)) is expected, repr(name)


def test_report_urls_accepted_as_before_but_visible_ascii_only():
    import re

    # The old pattern, with "[^\s;,\"]" narrowed to visible ASCII without ";", ",", '"'
    # or "\\" (see the test below): no trailing newline either; plain http only to a
    # loopback host (below), which no generated URL names.
    url_char = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]"
    oracle = re.compile(rf"^(https://{url_char}+|/{url_char}*)$")
    alphabet = "a/:.?=&%#;,\"' \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000é\x00"
    prefixes = ["", "/", "https://", "http://", "https:/", "HTTPS://", "ftp://", "//", " /"]
    edges = ["https://", "http://x", "/", "/\n", "https://r.example/csp\n", "https://a b"]
    for url in [*_texts(2, alphabet, prefixes), *edges]:
        expected = oracle.match(url) is not None and not url.endswith("\n")
        assert _accepted(report_to=url) is expected, repr(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://reports.example/csp",
        "http://reports.example:443/csp",
        "http://127.0.0.1.reports.example/csp",
        "http://localhost@reports.example/csp",
        "http://192.0.2.7/csp",
        "http://[::2]/csp",
    ],
)
def test_report_to_over_plain_http_to_another_host_refuses_to_build(url):
    """The Reporting API drops an endpoint that is not potentially trustworthy, and a
    policy naming report-to has its report-uri ignored: from an https page, Chromium sent
    no report at all (the endpoint never registered, its report queued for good)."""
    with pytest.raises(ConfigError, match="report_to must be an https URL"):
        SecureHeadersConfig(report_to=url)


@pytest.mark.parametrize(
    "url",
    [
        "https://reports.example/csp",
        "http://localhost:8000/csp",
        "http://app.localhost/csp",
        "http://127.0.0.1:8000/csp",
        "http://127.1.2.3/csp?x=1",
        "http://[::1]:8000/csp",
        "/csp-reports",
    ],
)
def test_report_to_over_https_a_path_or_plain_http_on_loopback_builds(url):
    headers = TestClient(make_app(SecureHeadersConfig(report_to=url))).get("/page").headers
    assert headers["reporting-endpoints"] == f'csp-endpoint="{url}"'
    assert directives(headers["content-security-policy"])["report-uri"] == [url]


@pytest.mark.parametrize(
    "url",
    [
        "/csp\x00",
        "/csp\x7f",
        "/csp-\u20ac",
        "/rapport-\u00e9",
        "/csp\\report",
        "https://r.example/a\\b",
    ],
    ids=["nul", "del", "euro", "latin-1", "backslash", "backslash-in-url"],
)
def test_report_to_that_is_no_structured_field_string_refuses_to_build(url):
    """``report_to`` is sent as the sf-string of ``Reporting-Endpoints`` (RFC 9651,
    3.3.3: printable ASCII only, ``\\`` only before ``"`` or ``\\``). Accepted, a NUL or
    DEL made h11 drop every connection, a "\u20ac" made every ASGI answer a bare 500, and
    "é" or a backslash sent a field browsers drop whole: no report ever arrived."""
    with pytest.raises(ConfigError, match="report_to"):
        SecureHeadersConfig(report_to=url)


def test_reporting_endpoints_is_a_structured_field_dictionary_of_one_string():
    """RFC 9651, 3.2 and 3.3.3: ``key="..."`` with printable ASCII inside the quotes."""
    import re

    url = "https://r.example/csp?a=1&b=%7E#x"
    config = SecureHeadersConfig(report_to=url)
    field = TestClient(make_app(config)).get("/page").headers["reporting-endpoints"]
    assert re.fullmatch(r'csp-endpoint="[\x20\x21\x23-\x5b\x5d-\x7e]*"', field)
    assert field == f'csp-endpoint="{url}"'


@pytest.mark.parametrize(
    "media", ["image/svg+xml", "text/xml", "application/xml; charset=utf-8", "text/xsl"]
)
def test_svg_or_xml_document_gets_the_csp_that_stops_its_inline_scripts(media):
    # Opened directly, an SVG or XML document runs its own <script> (an uploaded .svg), as
    # an XSLT stylesheet sent as text/xsl does in Chromium.
    app = App(middleware=[SecureHeaders()])

    @app.get("/image")
    async def image(request):
        return Response(body=b"<svg xmlns='http://www.w3.org/2000/svg'/>", media_type=media)

    csp = TestClient(app).get("/image").headers["content-security-policy"]
    assert "script-src 'nonce-" in csp and "object-src 'none'" in csp


@pytest.mark.parametrize(
    "fields",
    [
        [("content-type", "text/plain, text/html")],
        [("content-type", "application/json"), ("content-type", "text/html")],
    ],
)
def test_content_type_listing_html_after_another_type_gets_the_csp(fields):
    # A browser renders the answer by the last type it can parse, the first read alone
    # needed no policy.
    app = App(middleware=[SecureHeaders()])

    @app.get("/page")
    async def page(request):
        return Response(b"<script>alert(1)</script>", headers=fields)

    assert "script-src 'nonce-" in TestClient(app).get("/page").headers["content-security-policy"]


def page_with_nonce(nonce: str) -> TestResponse:
    """An HTML page whose handler sets ``nonce`` as the request's CSP nonce."""
    app = App(request_log=False, middleware=[SecureHeaders()])

    @app.get("/page")
    async def page(request):
        request.csp_nonce = nonce
        return Response.html(f'<script nonce="{nonce}"></script>')

    return TestClient(app).get("/page")


@pytest.mark.parametrize(
    "nonce",
    ["x' 'unsafe-inline", "x 'unsafe-eval'", "x\r\nset-cookie: s=1", "abc===", "", "n\u00f6nce"],
    ids=["quote-adds-a-source", "space-adds-a-source", "crlf", "three-pads", "empty", "latin-1"],
)
def test_a_handler_nonce_that_is_no_base64_value_is_a_500_problem_with_the_headers(nonce):
    # Put into the policy as it is, a quote or a space added sources ("x 'unsafe-eval'"
    # let scripts run strings as code), and a line break failed after a 200 was logged.
    response = page_with_nonce(nonce)
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "unsafe" not in response.headers.get("content-security-policy", "")


@pytest.mark.parametrize("nonce", ["handler-chosen", "a+b/c_d-e==", "QUJD="])
def test_a_handler_nonce_that_is_a_base64_value_goes_into_the_policy(nonce):
    response = page_with_nonce(nonce)
    assert response.status == 200
    assert f"'nonce-{nonce}'" in response.headers["content-security-policy"]


def test_apply_refuses_a_nonce_that_is_no_base64_value():
    response = Response.html("<p>")
    with pytest.raises(ValueError, match="base64"):
        SecureHeaders().apply(response, "x' 'unsafe-inline")
    assert "content-security-policy" not in response.headers


@pytest.mark.parametrize(
    "config",
    [
        {"permissions_policy": "camera=()\x01"},
        {"referrer_policy": "no-referrer\x7f"},
        {"permissions_policy": "camera=(\u20ac)"},
        {"csp_directives": ("img-src \u20ac",)},
    ],
)
def test_a_configured_value_no_runtime_sends_refuses_to_build(config):
    # Only CR, LF and NUL were refused: "\u20ac" failed every response the ASGI adapter
    # encoded, a control character every one h11 validated.
    with pytest.raises(ConfigError, match="invalid"):
        SecureHeadersConfig(**config)


def test_spaces_around_a_configured_value_are_not_sent():
    # Sent as configured, h11 (uvicorn's and Hypercorn's HTTP/1.1) refused the field
    # and dropped the connection of every request the app answered.
    import h11

    config = SecureHeadersConfig(
        referrer_policy=" no-referrer\t",
        permissions_policy="camera=() ",
        csp_directives=("img-src 'self' ",),
    )
    response = TestClient(make_app(config)).get("/page")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["permissions-policy"] == "camera=()"
    assert response.headers["content-security-policy"].endswith("; img-src 'self'")
    fields = [(name.encode(), value.encode("latin-1")) for name, value in response.headers.items()]
    h11.Response(status_code=200, headers=fields)


@pytest.mark.parametrize(
    "config",
    [
        {"csp_directives": ("img-src 'self', connect-src 'self'",)},
        {"csp_default_src": "'self', 'none'"},
    ],
    ids=["directive", "default-src"],
)
def test_csp_text_with_a_comma_refuses_to_build(config):
    """A comma separates policies in a Content-Security-Policy field (CSP 3, 2.2.1 and
    3.1: serialized-policy-list). Accepted, "img-src 'self', connect-src 'self'" made the
    report-to and report-uri the app configured part of a second policy, so the strict
    one, enforced or on trial as report-only, sent no report at all."""
    with pytest.raises(ConfigError, match="invalid CSP text"):
        SecureHeadersConfig(report_to="/csp", **config)


@pytest.mark.parametrize(
    "policy",
    [
        "camera 'none'; microphone 'none'",
        "Camera=()",
        "camera=(self, 'https://a.example')",
        "camera=(), ",
        "camera=(self",
        "camera=() microphone=()",
    ],
    ids=[
        "feature-policy-syntax",
        "capital-key",
        "comma-in-list",
        "trailing-comma",
        "unclosed",
        "no-comma",
    ],
)
def test_permissions_policy_that_is_no_structured_field_dictionary_refuses_to_build(policy):
    """Permissions-Policy is a Dictionary (RFC 9651, 3.2); a browser that cannot parse it
    ignores the whole field (4.2). Accepted, each of these was sent, and every feature the
    policy was to switch off stayed on."""
    with pytest.raises(ConfigError, match="permissions_policy"):
        SecureHeadersConfig(permissions_policy=policy)


@pytest.mark.parametrize(
    "policy",
    [
        DEFAULT_PERMISSIONS_POLICY,
        'geolocation=(self "https://maps.example"), camera=()',
        "fullscreen=*, camera=(self);report-to=main",
    ],
)
def test_permissions_policy_that_is_a_dictionary_is_sent(policy):
    config = SecureHeadersConfig(permissions_policy=policy)
    assert TestClient(make_app(config)).get("/data").headers["permissions-policy"] == policy
