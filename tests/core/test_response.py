import json
import subprocess
import sys
from decimal import Decimal

import pytest

from daloy_edge import App, Headers, HTTPError, Response
from daloy_edge.middleware.secure_headers import SecureHeaders
from daloy_edge.observability import MemorySink, RequestLog
from daloy_edge.testing import TestClient
from tests.support.mutators import EACH_MUTATOR


@pytest.mark.parametrize(
    "location",
    ["/next", "/a/b?c=d#e", "https://example.com/x", "http://example.com"],
)
def test_redirect_accepts_local_paths_and_http_urls(location):
    assert Response.redirect(location).headers["location"] == location


@pytest.mark.parametrize(
    ("location", "sent"),
    [
        ("/caf\u00e9", "/caf%C3%A9"),
        ("/\u20ac?q=\u00fc#\u00df", "/%E2%82%AC?q=%C3%BC#%C3%9F"),
        ("https://b\u00fccher.example/\u4e2d", "https://b%C3%BCcher.example/%E4%B8%AD"),
    ],
    ids=["latin-1", "past-latin-1", "absolute"],
)
def test_a_redirect_past_ascii_is_sent_as_utf8_escapes_not_as_runtime_specific_bytes(
    location, sent
):
    # Raw, "é" went out as the Latin-1 byte E9 from ASGI and Flask (a browser, reading
    # the field as UTF-8, came back with a path of invalid UTF-8) and as UTF-8 from Lambda.
    assert Response.redirect(location).headers["location"] == sent


@pytest.mark.parametrize(
    ("location", "sent"),
    [
        ("/a b", "/a%20b"),
        ('/q?x=<a href="y">', "/q?x=%3Ca%20href=%22y%22%3E"),
        ("https://x.example/{a}|^`", "https://x.example/%7Ba%7D%7C%5E%60"),
        ("/ /evil.example", "/%20/evil.example"),
    ],
    ids=["space", "angle-brackets-and-quotes", "braces-bar-caret-backtick", "space-after-slash"],
)
def test_a_redirect_to_ascii_no_uri_holds_is_sent_escaped(location, sent):
    """Location is a URI-reference (RFC 9110, 10.2.2), whose characters RFC 3986 (2)
    lists: space, '"', "<", ">", "^", "`", "{", "|" and "}" are none of them. Sent raw,
    each client repaired the target its own way (urllib escaped the space and sent the
    rest raw, httpx escaped them all) or refused it (http.client: "can't contain control
    characters")."""
    assert Response.redirect(location).headers["location"] == sent


@pytest.mark.parametrize(
    "location",
    [
        "//evil.example/x",
        "/\t/evil.example/x",
        "/\n/evil.example/x",
        "/\r/evil.example/x",
        "\t//evil.example/x",
        "/\\evil.example/x",
        "/\x0b/evil.example/x",
        "/\x7f/evil.example/x",
        "javascript:alert(1)",
        "evil.example",
    ],
    ids=[
        "protocol-relative",
        "tab-between-slashes",
        "newline-between-slashes",
        "cr-between-slashes",
        "leading-tab",
        "backslash",
        "vertical-tab",
        "delete",
        "javascript-scheme",
        "bare-host",
    ],
)
def test_redirect_refuses_a_target_a_browser_would_read_as_another_site(location):
    # Browsers remove tabs and newlines from URLs and read "\\" as "/", so each of these
    # could leave the site as an open redirect.
    with pytest.raises(ValueError):
        Response.redirect(location)


def test_a_str_body_without_a_type_is_sent_as_utf8_text():
    """RFC 9110, 8.3: a sender of content should say its type, or the recipient sniffs
    one (a browser without nosniff found HTML in reflected text and ran its script)."""
    response = Response("<script>alert(1)</script>")
    assert response.headers.get_all("content-type") == ["text/plain; charset=utf-8"]


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        ("", None, []),
        (b"<p>", None, []),
        ("<p>", {"content-type": "text/html; charset=utf-8"}, ["text/html; charset=utf-8"]),
    ],
    ids=["empty-text", "bytes", "declared"],
)
def test_only_a_str_body_of_no_declared_type_is_given_text_plain(body, headers, expected):
    assert Response(body, headers=headers).headers.get_all("content-type") == expected


@pytest.mark.parametrize("status", [200, 300, 304, 305, 404, True])
def test_a_redirect_with_a_status_no_client_follows_is_refused(status):
    with pytest.raises(ValueError, match="301, 302, 303, 307 or 308"):
        Response.redirect("/next", status)


def _answering(answer):
    app = App(request_log=False)

    @app.get("/x")
    async def x(request):
        return answer()

    return TestClient(app).get("/x")


@pytest.mark.parametrize(
    "value",
    ["a\r\nset-cookie: session=forged", "a\nb", "a\x00b", "attachment; filename=\u20ac.txt", None],
    ids=["crlf", "lf", "nul", "beyond-latin-1", "none"],
)
def test_a_handler_header_no_runtime_sends_as_given_is_a_500_problem(value):
    response = _answering(lambda: Response.json({}, headers={"x-note": value}))
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "x-note" not in response.headers
    assert "set-cookie" not in response.headers


def test_a_handler_header_name_that_is_no_token_is_a_500_problem():
    response = _answering(lambda: Response.text("hi", headers={"x note:": "1"}))
    assert response.status == 500


def test_an_http_error_header_with_a_line_break_is_a_500_problem():
    def refuse():
        raise HTTPError("no", status=403, headers={"x-reason": "a\r\nset-cookie: s=1"})

    response = _answering(refuse)
    assert response.status == 500
    assert "x-reason" not in response.headers


def test_handler_headers_of_field_value_characters_are_sent():
    value = 'attachment; filename="caf\u00e9.txt";\tsize=1'
    response = _answering(lambda: Response.text("hi", headers={"content-disposition": value}))
    assert response.headers["content-disposition"] == value


@pytest.mark.parametrize(
    "answer",
    [
        lambda: Response.text("hi", headers={"x-note": " padded\t"}),
        lambda: Response.text("hi", headers=Headers.from_dict({"x-note": " padded\t"})),
        lambda: Response(b"hi", media_type=" padded\t"),
    ],
    ids=["pairs", "headers-object", "media-type"],
)
def test_spaces_around_a_handler_header_value_are_dropped_not_sent(answer):
    # h11 (uvicorn's HTTP/1.1) refused " padded\t" after the request was logged as a
    # 200 and dropped the connection; gunicorn and Workers strip it.
    response = _answering(answer)
    assert response.status == 200
    field = "content-type" if "padded" in response.headers["content-type"] else "x-note"
    assert response.headers.get_all(field) == ["padded"]


def test_spaces_around_an_http_error_header_value_are_dropped_not_sent():
    def refuse():
        raise HTTPError("slow down", status=429, headers={"retry-after": " 1 "})

    response = _answering(refuse)
    assert response.status == 429
    assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize("body", [{"ok": True}, 123, ["a"]], ids=["dict", "int", "list"])
def test_a_response_body_that_is_no_bytes_is_a_500_problem(body):
    response = _answering(lambda: Response(body))
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("status", [200.0, Decimal(200)], ids=["float", "decimal"])
@pytest.mark.parametrize("make", [Response.json, lambda body, status: Response(b"", status)])
def test_a_status_equal_to_an_int_but_no_int_is_a_500_problem(make, status):
    # Equal to 200, it passed the app's check of the status; uvicorn's h11 then dropped
    # the connection, and a Decimal (DynamoDB's numbers) lost the request's log line.
    response = _answering(lambda: make({}, status))
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("status", [201.0, Decimal(201), "201"], ids=["float", "decimal", "str"])
def test_a_status_set_as_no_int_after_the_response_was_made_is_a_500_problem_and_logged_so(status):
    # Equal to 201, a float or a Decimal set on a made Response passed the app's check;
    # uvicorn's h11 then dropped the connection (no answer), and a Decimal failed the
    # request log, so the request had no line at all.
    sink = MemorySink()
    app = App(request_log=RequestLog(stdout=False, sinks=[sink]))

    @app.get("/x")
    async def x(request):
        response = Response.json({"ok": True})
        response.status = status
        return response

    response = TestClient(app).get("/x")
    assert response.status == 500 and type(response.status) is int
    assert response.headers["content-type"] == "application/problem+json"
    [record] = sink.records
    assert record["Attributes"]["http.response.status_code"] == 500


def test_an_int_enum_status_set_after_the_response_was_made_is_sent_as_its_status():
    from http import HTTPStatus

    def answer():
        response = Response.json({"ok": True})
        response.status = HTTPStatus.CREATED
        return response

    response = _answering(answer)
    assert response.status == 201
    assert response.json() == {"ok": True}


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
def test_a_response_returned_again_after_a_head_is_a_500_not_an_empty_200(sync):
    # The HEAD answer dropped the constant's body in place: every GET after it, from
    # every client, was an empty 200.
    shared = Response.json({"ok": True})
    app = App(request_log=False)

    def constant(request):
        return shared

    async def constant_async(request):
        return shared

    app.add_route("/constant", constant if sync else constant_async, ("GET",))
    client = TestClient(app)
    assert client.request("HEAD", "/constant").status == 200
    later = client.get("/constant")
    assert later.status == 500
    assert later.headers["content-type"] == "application/problem+json"


def test_a_response_returned_again_after_compression_is_a_500_not_gzip_for_everyone():
    # The first gzip client had the constant's body compressed in place: later clients
    # that accept no coding were sent gzip bytes.
    from daloy_edge.middleware.compression import Compression

    shared = Response.json({"items": ["x" * 50] * 100})
    app = App(request_log=False, middleware=[Compression()])

    @app.get("/constant")
    async def constant(request):
        return shared

    client = TestClient(app)
    assert client.get("/constant", headers={"accept-encoding": "gzip"}).status == 200
    later = client.get("/constant")
    assert later.status == 500
    assert "content-encoding" not in later.headers


def test_a_response_built_per_request_is_answered_every_time():
    app = App(request_log=False)

    @app.get("/fresh")
    async def fresh(request):
        return Response.text("hi")

    client = TestClient(app)
    assert client.request("HEAD", "/fresh").status == 200
    assert [client.get("/fresh").text for _ in range(3)] == ["hi"] * 3


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/html; charset=ISO-8859-1", "iso-8859-1"),
        ('text/plain; charset="utf-16"', "utf-16"),
        ("text/plain;charset=windows-1252", "windows-1252"),
        ("text/plain; charset=UTF-8", "utf-8"),
        ("text/plain; charset=latin-1; charset=utf-8", "latin-1"),
    ],
)
def test_a_str_body_is_sent_in_the_charset_its_content_type_names(content_type, charset):
    # Sent as UTF-8 under "charset=ISO-8859-1", "café" read as "cafÃ©" in every browser.
    response = _answering(
        lambda: Response("caf\u00e9 \u00fc", headers={"content-type": content_type})
    )
    assert response.status == 200
    assert response.content == "caf\u00e9 \u00fc".encode(charset)
    assert response.headers["content-type"] == content_type


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        # One quoted value: browsers read UTF-8 here, and the body went out in UTF-16.
        ('text/html; q="a;charset=utf-16"; charset=utf-8', "utf-8"),
        # No charset at all: a 500, for a type that answered as UTF-8 before.
        ("text/plain; charset=", "utf-8"),
        ("text/plain; charset=; charset=iso-8859-1", "iso-8859-1"),
        # Spaces around "=" make no charset parameter (RFC 9110) for a browser.
        ("text/plain; charset = iso-8859-1", "utf-8"),
    ],
)
def test_a_str_body_is_sent_in_the_charset_browsers_read_in_its_content_type(content_type, charset):
    response = _answering(lambda: Response("caf\u00e9", headers={"content-type": content_type}))
    assert response.status == 200
    assert response.content == "caf\u00e9".encode(charset)


def test_reading_a_str_bodys_charset_imports_no_regex_module():
    # ``re`` costs a few ms of a cold start: an HTML or text answer with headers of its
    # own (most routes that answer HTML) imported it to find the charset.
    code = (
        "import sys\n"
        "from daloy_edge import Response\n"
        "Response.html('<p>caf\\u00e9</p>', headers={'cache-control': 'no-store'})\n"
        "Response('caf\\u00e9', headers={'content-type': 'text/plain; charset=iso-8859-1'})\n"
        "print('re' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "content_type", ["text/plain; charset=us-ascii", "text/plain; charset=no-such-charset"]
)
def test_a_str_body_its_content_types_charset_cannot_hold_is_a_500_problem(content_type):
    response = _answering(lambda: Response("caf\u00e9", headers={"content-type": content_type}))
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("body", [bytearray(b"hi"), memoryview(b"hi")])
def test_a_bytes_like_body_is_kept_as_bytes_every_adapter_can_send(body):
    assert type(Response(body).body) is bytes


@pytest.mark.parametrize(
    "stream", [[b"a", b"b"], iter([b"a"]), b"ab"], ids=["list", "iterator", "bytes"]
)
def test_a_response_stream_that_is_no_async_iterable_is_a_500_problem(stream):
    response = _answering(lambda: Response(stream=stream))
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"


@EACH_MUTATOR
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-note", "a\r\nset-cookie: session=forged"),
        ("x-note", "a\x00b"),
        ("x-note", "a\x7fb"),
        ("x-note", "\u20ac"),
        ("x note", "1"),
    ],
    ids=["crlf", "nul", "delete", "euro", "name-with-space"],
)
def test_a_header_added_after_the_response_was_made_is_a_500_problem(mutate, name, value):
    def answer():
        response = Response.json({"ok": True})
        mutate(response.headers, name, value)
        return response

    response = _answering(answer)
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert name not in response.headers
    assert "set-cookie" not in response.headers


def test_a_header_added_after_the_response_is_logged_as_a_500_naming_the_field(capsys):
    app = App()
    app.use(SecureHeaders())

    @app.get("/x")
    async def x(request):
        response = Response.json({"ok": True})
        response.headers["x-note"] = request.query["v"]
        return response

    capsys.readouterr()
    response = TestClient(app).get("/x?v=s3cret%0D%0Aset-cookie:%20a=1")
    assert response.status == 500
    assert "strict-transport-security" in response.headers
    (line,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert line["Attributes"]["http.response.status_code"] == 500
    assert "'x-note'" in line["Attributes"]["exception.message"]
    assert "s3cret" not in json.dumps(line)


def test_a_header_added_by_middleware_after_the_handler_is_a_500_problem():
    app = App(request_log=False)

    async def tag(request, call_next):
        response = await call_next(request)
        response.headers.add("x-user", "ana\nset-cookie: s=1")
        return response

    @app.get("/x", middleware=[tag])
    async def x(request):
        return Response.json({"ok": True})

    response = TestClient(app).get("/x")
    assert response.status == 500
    assert "x-user" not in response.headers


def test_an_http_error_header_added_after_the_error_was_made_is_a_500_problem():
    def refuse():
        error = HTTPError("no", status=403)
        error.headers["x-reason"] = "a\r\nset-cookie: s=1"
        raise error

    response = _answering(refuse)
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "x-reason" not in response.headers


def test_a_headers_object_given_with_a_line_break_is_a_500_problem():
    response = _answering(lambda: Response(b"hi", headers=Headers([("x-note", "a\r\nb: c")])))
    assert response.status == 500
    assert "x-note" not in response.headers


def test_a_media_type_with_a_line_break_is_a_500_problem():
    response = _answering(lambda: Response(b"hi", media_type="text/plain\r\nset-cookie: s=1"))
    assert response.status == 500
    assert "set-cookie" not in response.headers


def test_an_answer_setting_a_cookie_is_no_store_so_a_shared_cache_never_hands_it_to_others():
    """A shared cache may store an answer with Set-Cookie (RFC 9111): a CDN keying by URL
    set the first visitor's cookie (a refreshed token, a session) in every later one."""

    def refreshed():
        response = Response.json({"ok": True})
        response.set_cookie("token", "for-one-client")
        return response

    def signed_out():
        response = Response.json({"ok": True})
        response.delete_cookie("token")
        return response

    for answer in (refreshed, signed_out):
        assert _answering(answer).headers.get_all("cache-control") == ["no-store"]


def test_a_cookie_answer_that_chose_its_own_caching_keeps_it():
    def before():
        response = Response.json({"ok": True}, headers={"cache-control": "private, max-age=60"})
        response.set_cookie("pref", "dark")
        return response

    def after():
        response = Response.json({"ok": True})
        response.set_cookie("pref", "dark")
        response.headers["cache-control"] = "private, max-age=60"
        return response

    for answer in (before, after):
        assert _answering(answer).headers.get_all("cache-control") == ["private, max-age=60"]


def test_a_cookie_set_with_a_same_site_outside_its_choices_is_a_500_problem():
    def answer():
        response = Response.json({"ok": True})
        response.set_cookie("s", "v", same_site="Lax\r\nSet-Cookie: admin=1")  # type: ignore[arg-type]
        return response

    response = _answering(answer)
    assert response.status == 500
    assert "set-cookie" not in response.headers


def test_repeated_fields_given_as_pairs_type_check_for_a_users_checker(type_errors):
    # A mapping cannot repeat a name: two Set-Cookie fields (or a Headers) given to
    # Response.json failed mypy --strict though the response sent both.
    assert (
        type_errors(
            """
            from http import HTTPStatus
            from daloy_edge import Headers, Response

            cookies = [("set-cookie", "a=1"), ("set-cookie", "b=2")]
            Response(b"", HTTPStatus.OK, cookies)
            Response.json({"ok": True}, HTTPStatus.CREATED, cookies)
            Response.text("ok", headers=Headers(cookies))
            Response.html("<p>ok</p>", headers=Headers(cookies))
            Response.empty(headers=cookies)
            """
        )
        == []
    )


def test_a_response_passed_on_within_one_request_is_answered():
    # A route answering with another app's ``handle``: the inner route returned the
    # Response for this very request, so the outer one returning it is no reuse.
    inner = App(request_log=False)

    @inner.get("/x")
    def x(request):
        return Response.text("inner")

    outer = App(request_log=False)

    @outer.get("/x")
    async def delegate(request):
        return await inner.handle(request)

    client = TestClient(outer)
    assert [client.get("/x").text for _ in range(2)] == ["inner"] * 2


def test_a_response_a_route_returned_can_be_pickled_by_a_caching_middleware():
    # A middleware that caches the route's Response pickled (in Redis, on disk) hands a
    # copy to each later request: the copy answers it, as the original answered its own.
    import pickle

    stored: dict[str, bytes] = {}

    async def cache(request, call_next):
        if request.path in stored:
            return pickle.loads(stored[request.path])
        response = await call_next(request)
        stored[request.path] = pickle.dumps(response)
        return response

    app = App(request_log=False, middleware=[cache])

    @app.get("/page")
    async def page(request):
        return Response.text("hi", headers={"cache-control": "max-age=60"})

    client = TestClient(app)
    answers = [client.get("/page") for _ in range(2)]
    assert [(a.status, a.text) for a in answers] == [(200, "hi")] * 2
    assert answers[1].headers["cache-control"] == "max-age=60"


def test_an_answered_constant_keeps_no_request_alive():
    # What marks a Response answered must not hold the request that answered it (its
    # Authorization header among its fields) for as long as a module-level constant lives.
    import gc
    import weakref

    class Marker:
        pass

    shared = Response.text("hi")
    seen: list[weakref.ref[Marker]] = []
    app = App(request_log=False)

    @app.get("/constant")
    def constant(request):
        marker = request.state["marker"] = Marker()
        seen.append(weakref.ref(marker))
        return shared

    client = TestClient(app)
    assert client.get("/constant", headers={"authorization": "Bearer x"}).status == 200
    gc.collect()
    assert seen[0]() is None
    assert client.get("/constant").status == 500


def test_a_middlewares_constant_answer_given_again_is_a_500_not_one_that_grows():
    # A module-level 403 a middleware returns: one HEAD emptied its body for every request
    # after, and each CORS answer added one more Vary to it, without bound.
    from daloy_edge.middleware.cors import CORS, CORSConfig

    denied = Response.json({"error": "denied"}, status=403)

    async def gate(request, call_next):
        if request.headers.get("x-key") != "ok":
            return denied
        return await call_next(request)

    cors = CORS(CORSConfig(allow_origins=("https://a.example",)))
    app = App(request_log=False, middleware=[cors, gate])

    @app.get("/x")
    async def x(request):
        return {"ok": True}

    client = TestClient(app)
    assert client.request("HEAD", "/x").status == 403
    later = [client.get("/x", headers={"origin": "https://a.example"}) for _ in range(3)]
    assert [r.status for r in later] == [500] * 3
    assert all(r.headers["content-type"] == "application/problem+json" for r in later)
    assert denied.headers.get_all("vary") == ["Origin"]
    assert client.get("/x", headers={"x-key": "ok"}).json() == {"ok": True}


def test_middleware_passing_on_what_call_next_gave_and_fresh_answers_are_answered():
    async def outer(request, call_next):
        return await call_next(request)

    async def inner(request, call_next):
        if request.path == "/fresh":
            return Response.text("fresh")
        return await call_next(request)

    app = App(request_log=False, middleware=[outer, inner])

    @app.get("/route")
    async def route(request):
        return Response.text("route")

    client = TestClient(app)
    assert [client.get("/route").text for _ in range(2)] == ["route"] * 2
    assert [client.get("/fresh").text for _ in range(2)] == ["fresh"] * 2


def test_a_route_answering_with_the_first_of_two_apps_handle_is_answered_not_a_500():
    # A route trying a primary app, then a fallback, and answering with the primary's 404
    # when both miss: each Response answered this very request, so none is reused.
    primary = App(request_log=False)
    fallback = App(request_log=False)

    @primary.get("/x")
    async def primary_x(request):
        return Response.json({"from": "primary"}, status=404)

    @fallback.get("/x")
    async def fallback_x(request):
        return Response.json({"from": "fallback"}, status=404)

    app = App(request_log=False)

    @app.get("/x")
    async def x(request):
        first = await primary.handle(request)
        second = await fallback.handle(request)
        return first if second.status == 404 else second

    client = TestClient(app)
    answers = [client.get("/x") for _ in range(2)]
    assert [(a.status, a.json()) for a in answers] == [(404, {"from": "primary"})] * 2


def test_a_middleware_calling_call_next_again_and_giving_the_first_answer_is_not_a_500():
    # Calling call_next twice is unsupported, but the first answer is this request's own:
    # giving it back is no reuse, and the route's 503 reaches the client, not a 500.
    calls: list[int] = []

    async def retry(request, call_next):
        first = await call_next(request)
        second = await call_next(request)
        return first if second.status >= 500 else second

    app = App(request_log=False, middleware=[retry])

    @app.get("/f")
    async def f(request):
        calls.append(1)
        return Response.json({"n": len(calls)}, status=503)

    assert TestClient(app).get("/f").json() == {"n": 1}
    assert calls == [1, 1]


@pytest.mark.parametrize("given", [list, Headers])
def test_a_content_type_given_on_two_lines_is_one_field_of_both(given):
    fields = [("content-type", "application/json"), ("x-a", "1"), ("Content-Type", "text/html")]
    response = Response(b"<p>", headers=given(fields))
    assert response.headers.get_all("content-type") == ["application/json, text/html"]
    assert response.headers["x-a"] == "1"


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("text/html", "text/html; charset=utf-8"),
        ("TEXT/HTML", "TEXT/HTML; charset=utf-8"),
        ("text/html; q=1", "text/html; q=1; charset=utf-8"),
        ("application/xhtml+xml", "application/xhtml+xml; charset=utf-8"),
        ("application/xml", "application/xml; charset=utf-8"),
        ("text/html; charset=utf-8", "text/html; charset=utf-8"),
        ("application/json", "application/json"),
        ("application/octet-stream", "application/octet-stream"),
    ],
)
@pytest.mark.parametrize("how", ["media_type", "headers"])
def test_a_str_page_of_no_charset_says_the_utf8_it_is_sent_in(given, sent, how):
    """ASVS 5.0 4.1.1: a text answer names its charset. A page of none is decoded in a
    charset the browser picks (windows-1252 in Chromium: tests/browser), or guesses from
    the content, where escape sequences in reflected text select ISO-2022-JP."""
    reflected = 'caf\u00e9 \x1b$B"><img src=x>\x1b(B'
    if how == "media_type":
        response = Response(reflected, media_type=given)
    else:
        response = Response(reflected, headers={"content-type": given})
    assert response.headers.get_all("content-type") == [sent]
    assert response.body == reflected.encode("utf-8")


def test_a_bytes_page_of_no_charset_is_sent_as_given():
    # Its encoding is the handler's to know: nothing is said for it.
    response = Response(b"<p>caf\xe9</p>", media_type="text/html")
    assert response.headers.get_all("content-type") == ["text/html"]
