from __future__ import annotations

import types

import pytest

from daloy_edge import App, ConfigError, Headers, Response, testing
from daloy_edge.testing import TestClient
from tests.support.streams import Cursor


def quiet_app() -> App:
    return App(request_log=False)


def test_a_client_used_as_a_context_manager_runs_startup_on_entry_and_shutdown_on_exit():
    events: list[str] = []
    app = quiet_app()
    app.on_startup(lambda: events.append("up"))
    app.on_shutdown(lambda: events.append("down"))

    with TestClient(app):
        assert events == ["up"]
    assert events == ["up", "down"]


def test_a_client_used_as_a_context_manager_raises_a_build_error_on_entry():
    app = quiet_app()

    class Refusing:
        def check_app(self, app: App) -> None:
            raise ConfigError("refused")

        async def __call__(self, request, call_next):
            return await call_next(request)

    app.use(Refusing())
    with pytest.raises(ConfigError), TestClient(app):
        pass


async def test_a_client_used_as_an_async_context_manager_runs_the_hooks_on_the_tests_loop():
    events: list[str] = []
    app = quiet_app()
    app.on_startup(lambda: events.append("up"))
    app.on_shutdown(lambda: events.append("down"))

    async with TestClient(app):
        assert events == ["up"]
    assert events == ["up", "down"]


def cookie_app() -> App:
    app = quiet_app()

    @app.get("/{path:path}")
    async def cookies(request):
        response = Response.json({"cookie": request.headers.get_all("cookie")})
        for line in request.query.get_all("line"):
            response.headers.add("set-cookie", line)
        return response

    return app


def set_cookies(client: TestClient, *lines: str, at: str = "/set") -> None:
    client.get(at, params=[("line", line) for line in lines])


@pytest.mark.parametrize("removal", ["clear", "del", "replace"])
def test_a_cookie_the_test_puts_in_by_hand_goes_with_every_request(removal: str):
    # The scope of the app's cookie outlived it in the jar: a test that cleared the jar,
    # deleted the cookie or replaced it and put one of that name in by hand sent it to
    # the app's Path and host only, where a hand-put cookie goes with every request.
    client = TestClient(cookie_app())
    set_cookies(client, "sid=app; Path=/set")
    if removal == "clear":
        client.cookies.clear()
    elif removal == "del":
        del client.cookies["sid"]
    client.cookies["sid"] = "hand"
    assert client.get("/show").json() == {"cookie": ["sid=hand"]}
    assert client.get("https://other.example/show").json() == {"cookie": ["sid=hand"]}


@pytest.mark.parametrize(
    "deletion",
    [
        "s=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "s=gone; Max-Age=-1",
        "s=gone; max-age=0; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
    ],
)
def test_a_cookie_deleted_by_expiry_is_no_longer_sent(deletion: str):
    client = TestClient(cookie_app())
    set_cookies(client, "s=1")
    set_cookies(client, deletion)
    assert client.get("/show").json() == {"cookie": []}


@pytest.mark.parametrize("line", ["s=1; Max-Age=60", "s=1; Expires=Thu, 01 Jan 2099 00:01:00 GMT"])
def test_a_cookie_is_no_longer_sent_once_its_lifetime_has_passed(monkeypatch, line: str):
    # Expiry was judged only when the cookie was set: a session the app set for a minute
    # went with every later request, where a browser stops sending it at its time.
    wall = [4070908800.0]  # 2099-01-01T00:00:00Z
    monkeypatch.setattr(testing, "time", types.SimpleNamespace(time=lambda: wall[0]))
    client = TestClient(cookie_app())
    set_cookies(client, line)
    wall[0] += 59
    assert client.get("/show").json() == {"cookie": ["s=1"]}
    wall[0] += 1
    assert client.get("/show").json() == {"cookie": []}
    assert client.cookies == {}


@pytest.mark.parametrize(
    "line",
    [
        "s=1; Path=/; Max-Age=" + "9" * 400,
        "s=1; Path=/; Max-Age=" + "9" * 5000,
        "s=1; Path=/; Expires=Thu, 01 Jan 99999 00:00:00 GMT",
    ],
)
def test_a_lifetime_too_long_for_a_float_or_a_calendar_keeps_the_cookie(line: str):
    # A Max-Age of 400 digits raised OverflowError (5000: int's digit limit) and an
    # Expires in the year 99999 ValueError into the test, where a browser keeps the
    # cookie (400 days at most; a year past 9999 is no date, so a session cookie).
    client = TestClient(cookie_app())
    set_cookies(client, line)
    assert client.get("/show").json() == {"cookie": ["s=1"]}


def test_a_cookie_whose_value_reads_max_age_0_is_kept():
    client = TestClient(cookie_app())
    set_cookies(client, "s=max-age=0")
    assert client.get("/show").json() == {"cookie": ["s=max-age=0"]}


def test_a_cookie_set_to_an_empty_value_is_sent_empty():
    client = TestClient(cookie_app())
    set_cookies(client, "s=1")
    set_cookies(client, "s=; Max-Age=60")
    assert client.get("/show").json() == {"cookie": ["s="]}


def test_a_cookie_scoped_to_a_path_is_not_sent_outside_it():
    client = TestClient(cookie_app())
    set_cookies(client, "s=1; Path=/account")
    assert client.get("/other").json() == {"cookie": []}
    assert client.get("/accounts").json() == {"cookie": []}
    assert client.get("/account/settings").json() == {"cookie": ["s=1"]}


def test_a_cookie_without_a_path_is_scoped_to_the_directory_that_set_it():
    client = TestClient(cookie_app())
    set_cookies(client, "s=1", at="/account/set")
    assert client.get("/other").json() == {"cookie": []}
    assert client.get("/account/x").json() == {"cookie": ["s=1"]}


def test_a_secure_cookie_is_not_kept_from_an_http_origin():
    client = TestClient(cookie_app(), scheme="http")
    set_cookies(client, "__Host-session=1; Secure; Path=/", "s=1; Secure")
    assert client.cookies == {}


def test_a_secure_cookie_is_not_sent_over_http():
    client = TestClient(cookie_app())
    set_cookies(client, "s=1; Secure")
    client.scheme = "http"
    assert client.get("/show").json() == {"cookie": []}


def test_a_host_only_cookie_is_not_sent_to_another_host():
    # The jar matched no host: a session cookie "a.example" set went with requests to
    # "b.example" too, where a browser sends it to a.example alone.
    client = TestClient(cookie_app())
    client.get("https://a.example/set", params={"line": "s=1; Path=/"})
    assert client.get("https://b.example/show").json() == {"cookie": []}
    assert client.get("https://sub.a.example/show").json() == {"cookie": []}
    assert client.get("https://a.example/show").json() == {"cookie": ["s=1"]}


def test_a_domain_cookie_is_sent_to_its_domain_and_the_names_below_it_only():
    client = TestClient(cookie_app())
    client.get("https://a.example/set", params={"line": "s=1; Path=/; Domain=a.example"})
    assert client.get("https://sub.a.example/show").json() == {"cookie": ["s=1"]}
    assert client.get("https://b.example/show").json() == {"cookie": []}


def test_a_cookie_for_a_top_level_domain_is_refused_as_a_public_suffix():
    # RFC 6265 5.3 step 5: a.example setting Domain=example was kept and its session
    # sent to b.example and every other name under the top-level domain.
    client = TestClient(cookie_app(), host="a.example")
    set_cookies(client, "s=1; Path=/; Domain=example")
    assert client.cookies == {}
    assert client.get("https://b.example/show").json() == {"cookie": []}


def test_a_top_level_host_naming_itself_as_domain_sets_a_host_only_cookie():
    client = TestClient(cookie_app(), scheme="http", host="localhost")
    set_cookies(client, "s=1; Path=/; Domain=localhost")
    assert client.get("/show").json() == {"cookie": ["s=1"]}
    assert client.get("http://app.localhost/show").json() == {"cookie": []}


def test_a_domain_cookie_set_by_an_ip_address_for_its_tail_is_refused():
    # RFC 6265 5.1.3: an IP address domain-matches only itself. 127.0.0.1 setting
    # Domain=0.0.1 was kept and sent to 10.0.0.1 too, where a browser ignores it.
    client = TestClient(cookie_app(), scheme="http", host="127.0.0.1")
    set_cookies(client, "s=1; Path=/; Domain=0.0.1")
    assert client.cookies == {}
    assert client.get("http://10.0.0.1/show").json() == {"cookie": []}


def test_a_domain_cookie_is_not_sent_to_an_ip_address_ending_in_its_domain():
    client = TestClient(cookie_app(), scheme="http", host="x.0.1")
    set_cookies(client, "s=1; Path=/; Domain=0.1")
    assert client.get("http://y.0.1/show").json() == {"cookie": ["s=1"]}
    assert client.get("http://10.0.0.1/show").json() == {"cookie": []}


@pytest.mark.parametrize("host", ["localhost:8000", "app.localhost", "127.0.0.1:8000", "[::1]"])
def test_a_secure_cookie_is_kept_and_sent_over_http_to_localhost_as_browsers_do(host: str):
    # Browsers count localhost and loopback as secure origins: the dev server's
    # __Host-session works there over plain http, where the jar dropped it.
    client = TestClient(cookie_app(), scheme="http", host=host)
    set_cookies(client, "__Host-session=1; Secure; Path=/")
    assert client.get("/show").json() == {"cookie": ["__Host-session=1"]}


@pytest.mark.parametrize(
    "line",
    [
        "__Host-s=1; Secure",
        "__Host-s=1; Secure; Path=/; Domain=testserver",
        "__host-s=1; Path=/",
        "__Secure-s=1",
        "s=1; Domain=other.example",
    ],
)
def test_a_cookie_browsers_refuse_is_not_kept(line: str):
    client = TestClient(cookie_app())
    set_cookies(client, line)
    assert client.cookies == {}


def framing_app() -> App:
    app = quiet_app()

    @app.get("/bytes")
    async def as_bytes(request):
        return Response(b"hello", headers={"content-length": "99", "transfer-encoding": "chunked"})

    @app.get("/stream")
    async def streamed(request):
        async def chunks():
            yield b"ab"
            yield b"cd"

        return Response(stream=chunks(), headers={"content-length": "4"})

    return app


def test_a_bytes_body_states_its_own_length_as_every_runtime_sends_it():
    response = TestClient(framing_app()).get("/bytes")
    assert response.headers.get_all("content-length") == ["5"]


def test_a_handlers_transfer_encoding_is_not_passed_on():
    response = TestClient(framing_app()).get("/bytes")
    assert "transfer-encoding" not in response.headers


def test_a_streamed_body_states_no_length_of_the_handlers():
    response = TestClient(framing_app()).get("/stream")
    assert (response.content, response.headers.get("content-length")) == (b"abcd", None)


def test_a_streamed_body_read_to_its_end_is_closed_as_a_server_closes_it():
    # Without a request log the stream was read and never closed, where every server
    # closes it once sent: a test of a handler releasing its cursor failed only here.
    cursor = Cursor()
    app = App(request_log=False)

    @app.get("/rows")
    async def rows(request):
        return Response(stream=cursor, media_type="text/plain")

    assert TestClient(app).get("/rows").content == b"one,two"
    assert cursor.closes == 1


def test_a_urls_user_and_password_go_as_basic_credentials_not_in_the_host():
    # Sent in Host as written ("ada:s%3Acret@testserver"), where HTTP clients send them
    # as an Authorization header: the app saw no credentials and a Host and request.url
    # no client sends.
    app = quiet_app()

    @app.get("/who")
    async def who(request):
        return {"host": request.host, "authorization": request.headers.get("authorization")}

    # verify: allow leaked-credentials -- a made-up user and password, the case under test
    answer = TestClient(app).get("https://ada:s%3Acret@testserver/who").json()
    assert answer == {"host": "testserver", "authorization": "Basic YWRhOnM6Y3JldA=="}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain; charset=iso-8859-1", 'text/html; charset="utf-16"', "text/plain"],
)
def test_text_is_the_body_read_in_the_charset_the_app_sent_it_in(content_type):
    # The app encodes a str body in its Content-Type's charset: read as UTF-8, "café"
    # sent as ISO-8859-1 failed .text with a UnicodeDecodeError.
    app = quiet_app()

    @app.get("/text")
    async def text(request):
        return Response("caf\u00e9", headers={"content-type": content_type})

    assert TestClient(app).get("/text").text == "caf\u00e9"


def fields_app() -> App:
    app = quiet_app()

    @app.get("/query")
    async def query(request):
        return {"a": request.query.get_all("a")}

    @app.post("/form")
    async def form(request):
        return {"body": (await request.body()).decode()}

    return app


def test_params_with_a_list_send_one_field_per_value():
    response = TestClient(fields_app()).get("/query", params={"a": ["1", "2"]})
    assert response.json() == {"a": ["1", "2"]}


def test_form_data_with_a_list_sends_one_field_per_value():
    response = TestClient(fields_app()).post("/form", data={"a": ["1", "2"]})
    assert response.json() == {"body": "a=1&a=2"}


def url_app() -> App:
    app = quiet_app()

    @app.get("/where")
    async def where(request):
        return {"url": request.url, "msg": request.query.get("msg")}

    return app


def test_an_absolute_url_is_sent_to_its_scheme_and_host():
    response = TestClient(url_app()).get("http://api.example:8080/where?msg=a")
    assert response.json() == {"url": "http://api.example:8080/where?msg=a", "msg": "a"}


def test_a_fragment_is_not_sent():
    response = TestClient(url_app()).get("/where?msg=a#part")
    assert response.json() == {"url": "https://testserver/where?msg=a", "msg": "a"}


def test_a_secure_cookie_is_not_sent_to_an_http_url():
    client = TestClient(cookie_app())
    set_cookies(client, "s=1; Secure")
    assert client.get("http://testserver/show").json() == {"cookie": []}


def test_headers_given_as_headers_are_sent_as_they_are():
    app = quiet_app()

    @app.get("/echo")
    async def echo(request):
        return {"x": request.headers.get_all("x-ab")}

    headers = Headers([("X-Ab", "1"), ("x-ab", "2")])
    assert TestClient(app).get("/echo", headers=headers).json() == {"x": ["1", "2"]}


def test_a_misspelt_option_of_a_shorthand_method_is_refused_by_a_users_checker(type_errors):
    # Typed **kwargs: object, client.get(url, header=...) passed mypy --strict and failed
    # only when the test ran.
    errors = type_errors(
        """
        from daloy_edge import App
        from daloy_edge.testing import TestClient

        client = TestClient(App())
        client.get("/", headers={"accept": "application/json"}, params={"q": ["a", "b"]})
        client.post("/", json={"ok": True}, cookies={"a": "1"})
        client.get("/", header={"accept": "application/json"})
        client.delete("/", params=5)
        """
    )
    assert len(errors) == 2
    assert 'Unexpected keyword argument "header"' in errors[0]
    assert '"params"' in errors[1]


def test_every_method_a_router_has_a_shorthand_for_has_one_in_the_client():
    app = quiet_app()
    methods = ("get", "post", "put", "patch", "delete")
    for method in methods:
        getattr(app, method)("/m")(lambda request: Response.json({"method": request.method}))
    client = TestClient(app)
    for method in methods:
        assert getattr(client, method)("/m").json() == {"method": method.upper()}
