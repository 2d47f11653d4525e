from __future__ import annotations

import json

import pytest

from daloy_edge import App, ConfigError, KeyRing, Response, use
from daloy_edge.middleware.csrf import CSRFConfig, CSRFProtect, csrf_token
from daloy_edge.middleware.sessions import (
    Session,
    SessionConfig,
    Sessions,
    SessionTooLarge,
    get_session,
)
from daloy_edge.signing import Signer
from daloy_edge.testing import TestClient

KEYS = KeyRing(["s" * 32])


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make_app(clock: Clock | None = None, **config: object) -> App:
    settings = {"keys": KEYS, "clock": clock or Clock(), "allow_no_csrf": True, **config}
    app = App(middleware=[Sessions(SessionConfig(**settings))])  # type: ignore[arg-type]

    @app.get("/set")
    async def set_value(request):
        get_session(request)["user"] = request.query.get("v", "alice")
        return None

    @app.get("/get")
    async def get_value(request):
        session = get_session(request)
        return {"user": session.get("user"), "id": session.id}

    @app.get("/login")
    async def login(request):
        session = get_session(request)
        session.regenerate()
        session["user"] = "bob"
        return None

    @app.get("/logout")
    async def logout(request):
        get_session(request).clear()
        return None

    @app.get("/huge")
    async def huge(request):
        get_session(request)["blob"] = "x" * 5000
        return None

    return app


def test_storing_a_value_sets_a_host_prefixed_secure_cookie():
    response = TestClient(make_app()).get("/set")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-session=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie.split("; ")


def test_reading_an_untouched_session_sets_no_cookie():
    client = TestClient(make_app())
    assert "set-cookie" not in client.get("/get").headers


def test_a_request_that_never_uses_its_session_draws_no_identity():
    drawn: list[int] = []

    def random_bytes(size: int) -> bytes:
        drawn.append(size)
        return bytes(size)

    app = make_app(random_bytes=random_bytes)

    @app.get("/plain")
    async def plain(request):
        return {"ok": True}

    client = TestClient(app)
    assert client.get("/plain").status == 200
    assert drawn == []
    first, second = client.get("/get").json()["id"], client.get("/get").json()["id"]
    assert drawn == [16, 16]
    assert first == second == "A" * 22


def test_a_request_without_a_cookie_gets_its_session_when_first_read():
    seen: list[object] = []

    class Watch:
        async def __call__(self, request, call_next):
            response = await call_next(request)
            # Read without making it: what the handler left behind.
            seen.append(request._session)
            return response

    app = App(
        middleware=[Watch(), Sessions(SessionConfig(keys=KEYS, allow_no_csrf=True))],
        request_log=False,
    )

    @app.get("/plain")
    async def plain(request):
        return {"ok": True}

    @app.get("/read")
    async def read(request):
        first = get_session(request)
        same = get_session(request) is first
        return {"same": same, "empty": len(first) == 0, "user": first.get("user")}

    @app.get("/write")
    async def write(request):
        get_session(request)["user"] = "alice"
        return None

    client = TestClient(app)
    plain_response = client.get("/plain")
    assert plain_response.status == 200
    assert "set-cookie" not in plain_response.headers
    assert seen.pop() is None
    read_response = client.get("/read")
    assert read_response.json() == {"same": True, "empty": True, "user": None}
    assert "set-cookie" not in read_response.headers
    assert seen.pop() is not None
    written = client.get("/write")
    assert written.headers["set-cookie"].startswith("__Host-session=")
    cookie = written.headers["set-cookie"].split(";")[0]
    assert client.get("/read", headers={"cookie": cookie}).json()["user"] == "alice"
    assert seen.pop() is not None


@pytest.mark.parametrize("cookie", [False, True])
@pytest.mark.parametrize("read_first", [False, True])
def test_replacing_the_session_is_a_server_error(cookie, read_first):
    app = make_app()
    errors: list[BaseException | None] = []

    class Spy:
        def on_response(self, request, response, duration_s, error):
            errors.append(error)

    app.observe(Spy())

    @app.get("/replace")
    async def replace(request):
        if read_first:
            get_session(request)
        request.session = {"user": "mallory"}
        return {"ok": True}

    client = TestClient(app)
    headers = {}
    if cookie:
        headers["cookie"] = client.get("/set").headers["set-cookie"].split(";")[0]
    response = client.get("/replace", headers=headers)
    assert response.status == 500
    assert "set-cookie" not in response.headers
    # Refused by Sessions itself, not by whatever a dict in its place broke further on.
    assert isinstance(errors[-1], RuntimeError)
    assert "request.session was replaced" in str(errors[-1])


def test_a_fresh_session_reads_the_clock_only_once_it_is_stored():
    class CountingClock(Clock):
        def __init__(self) -> None:
            super().__init__()
            self.reads = 0

        def __call__(self) -> float:
            self.reads += 1
            return self.now

    clock = CountingClock()
    app = make_app(clock, idle_timeout=600, max_age=1000)

    @app.get("/plain")
    async def plain(request):
        return {"ok": True}

    client = TestClient(app)
    client.get("/plain")
    client.get("/get")
    assert clock.reads == 0
    # Its absolute lifetime starts when it is first stored: the whole of ``max_age``.
    clock.now += 500
    cookie = client.get("/set").headers["set-cookie"]
    assert "Max-Age=1000" in cookie.split("; ")
    assert clock.reads > 0


def test_a_session_identity_once_drawn_stays_the_same():
    app = make_app()

    @app.get("/twice")
    async def twice(request):
        session = get_session(request)
        return {"same": session.id == session.id}

    assert TestClient(app).get("/twice").json() == {"same": True}


def test_session_values_survive_the_round_trip():
    client = TestClient(make_app())
    client.get("/set?v=carol")
    assert client.get("/get").json()["user"] == "carol"


def test_unchanged_session_is_not_rewritten():
    client = TestClient(make_app())
    client.get("/set")
    assert "set-cookie" not in client.get("/get").headers


def test_regenerate_gives_a_new_identity():
    client = TestClient(make_app())
    client.get("/set")
    before = client.get("/get").json()["id"]
    client.get("/login")
    assert client.get("/get").json()["id"] != before


def test_clear_deletes_the_cookie():
    client = TestClient(make_app())
    client.get("/set")
    response = client.get("/logout")
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert client.get("/get").json()["user"] is None


def test_a_value_stored_after_clear_starts_a_new_session():
    clock = Clock()
    app = make_app(clock)

    @app.get("/logout-with-notice")
    async def logout_with_notice(request):
        session = get_session(request)
        session.clear()
        session["notice"] = "signed out"
        return {"id": session.id, "created": session.created}

    client = TestClient(app)
    client.get("/set")
    before = client.get("/get").json()["id"]
    clock.now += 60
    after = client.get("/logout-with-notice").json()
    assert after["id"] != before
    assert after["created"] == int(clock.now)


def test_a_response_clearing_the_cookie_is_not_stored_by_caches():
    client = TestClient(make_app())
    client.get("/set")
    response = client.get("/logout")
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert response.headers["cache-control"] == "no-store"


def test_a_refreshed_cookie_on_a_publicly_cacheable_response_is_not_stored_by_caches():
    clock = Clock()
    app = make_app(clock, idle_timeout=600)

    @app.get("/asset")
    async def asset(request):
        return Response.text("body {}", headers={"cache-control": "public, max-age=3600"})

    client = TestClient(app)
    client.get("/set")
    clock.now += 400
    response = client.get("/asset")
    assert response.headers["set-cookie"].startswith("__Host-session=")
    assert response.headers.get_all("cache-control") == ["no-store"]


def test_an_answer_to_a_signed_in_client_is_not_stored_by_shared_caches():
    # /me-style answers: a cookie does not keep a shared cache from storing a response
    # and handing it to the next visitor, so one read with a session is marked no-store.
    client = TestClient(make_app())
    client.get("/set")
    response = client.get("/get")
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"


def test_an_answer_to_a_signed_in_client_keeps_the_routes_own_caching():
    app = make_app()

    @app.get("/asset")
    async def asset(request):
        return Response.text("body {}", headers={"cache-control": "public, max-age=3600"})

    client = TestClient(app)
    client.get("/set")
    # The one directive sent: a "no-store" added beside it overrides it in every cache.
    assert client.get("/asset").headers.get_all("cache-control") == ["public, max-age=3600"]


def test_an_answer_without_a_session_gets_no_cache_directive():
    assert "cache-control" not in TestClient(make_app()).get("/get").headers


@pytest.mark.parametrize("session_id", ["\u00e9t\u00e9", "", "a b", "a\u0000b"])
def test_a_signed_cookie_with_an_identity_no_session_is_given_is_no_session(session_id):
    # Whoever holds a key (a tool minting sessions, an instance on an older release)
    # signs what it likes; the identity still has to be one random_session_id draws.
    now = int(Clock().now)
    payload = json.dumps({"i": session_id, "c": now, "d": {"user": "alice"}}).encode()
    cookie = Signer(KEYS, purpose="session").sign(payload, now=now)
    client = TestClient(make_app())
    assert client.get("/get", cookies={"__Host-session": cookie}).json()["user"] is None


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"i": "abc", "i": "abc", "c": 1700000000, "d": {}}',
        b'["abc", 1700000000, {}]',
        b'{"c": 1700000000, "d": {"user": "alice"}}',
        b'{"i": "abc", "c": "1700000000", "d": {"user": "alice"}}',
        b'{"i": "abc", "c": 1700000000, "d": ["alice"]}',
        b'{"i": "abc", "c": 1800000000, "d": {"user": "alice"}}',
        b'{"i": "abc", "c": 1600000000, "d": {"user": "alice"}}',
    ],
)
def test_a_signed_cookie_whose_payload_is_no_session_is_no_session(payload):
    # A key holder's cookie of another shape (another release, a tool, a session from
    # the future or past its lifetime) starts a fresh session: never a 500.
    cookie = Signer(KEYS, purpose="session").sign(payload, now=int(Clock().now))
    response = TestClient(make_app()).get("/get", cookies={"__Host-session": cookie})
    assert response.status == 200
    assert response.json()["user"] is None


def _signed_session(user: str | None = "alice", pad: str = "", created: int | None = None) -> str:
    # What an instance signs for a session: the shape Sessions.encode writes, under the
    # plain "session" purpose the default cookie names keep.
    now = int(Clock().now)
    data = {} if user is None else {"user": user, "pad": pad} if pad else {"user": user}
    body = {"i": "A" * 22, "c": now if created is None else created, "d": data}
    return Signer(KEYS, purpose="session").sign(json.dumps(body).encode(), now=now)


@pytest.mark.parametrize(
    ("cookie_name", "insecure", "sent_as"),
    [
        (None, False, "__Host-session"),
        ("__Host-session", False, "__Host-session"),
        (None, True, "session"),
    ],
)
def test_a_cookie_under_a_default_name_stays_valid_when_the_name_is_written_out(
    cookie_name, insecure, sent_as
):
    # Only a name of the app's own is signed into the cookie: under the default names
    # (left unset or written out) the cookies browsers already hold, signed under the
    # plain purpose, still sign their users in rather than logging everyone out.
    app = make_app(cookie_name=cookie_name, insecure_http_cookies=insecure)
    reply = TestClient(app).get("/get", cookies={sent_as: _signed_session()})
    assert reply.json()["user"] == "alice"


def test_a_signed_cookie_past_max_bytes_is_no_session_and_one_at_the_bound_is_read():
    # A cookie longer than one the app would issue is refused before its signature is
    # checked, however it was signed; one exactly max_bytes long is still a session.
    cookie = _signed_session(pad="x" * 300)
    size = len("__Host-session") + 1 + len(cookie)
    at_bound = TestClient(make_app(max_bytes=size)).get("/get", cookies={"__Host-session": cookie})
    assert at_bound.json()["user"] == "alice"
    past = TestClient(make_app(max_bytes=size - 1)).get("/get", cookies={"__Host-session": cookie})
    assert past.json()["user"] is None


def test_a_session_created_up_to_the_clock_skew_ahead_is_read_and_one_further_is_not():
    # Another instance's clock may run ahead by the signer's allowance, no more.
    now = int(Clock().now)
    skew = int(Signer(KEYS, purpose="session").max_clock_skew)
    client = TestClient(make_app())
    at_bound = _signed_session(created=now + skew)
    past = _signed_session(created=now + skew + 1)
    assert client.get("/get", cookies={"__Host-session": at_bound}).json()["user"] == "alice"
    assert client.get("/get", cookies={"__Host-session": past}).json()["user"] is None


def test_a_session_is_read_until_exactly_max_age_after_login_and_not_a_second_later():
    # The cookie was re-signed a moment ago (fresh for idle_timeout): only the login
    # time it carries ends it.
    now = int(Clock().now)
    app = make_app(idle_timeout=600, max_age=1000)
    at_bound = _signed_session(created=now - 1000)
    past = _signed_session(created=now - 1001)
    assert TestClient(app).get("/get", cookies={"__Host-session": at_bound}).json()["user"] == (
        "alice"
    )
    assert TestClient(app).get("/get", cookies={"__Host-session": past}).json()["user"] is None


def test_an_empty_session_a_cookie_carries_is_refreshed_while_in_use():
    # An empty session in a cookie was pinned (a CSRF token is bound to its identity):
    # kept fresh like any other, or the open form's token died with it at idle_timeout.
    clock = Clock()
    app = make_app(clock, idle_timeout=600)
    cookie = _signed_session(user=None)
    clock.now += 150
    response = TestClient(app).get("/get", cookies={"__Host-session": cookie})
    assert response.json() == {"user": None, "id": "A" * 22}
    assert response.headers["set-cookie"].startswith("__Host-session=")


def test_idle_session_expires():
    clock = Clock()
    client = TestClient(make_app(clock, idle_timeout=600))
    client.get("/set")
    clock.now += 601
    assert client.get("/get").json()["user"] is None


def test_active_session_is_refreshed_before_it_idles_out():
    clock = Clock()
    client = TestClient(make_app(clock, idle_timeout=600))
    client.get("/set")
    clock.now += 400
    assert "set-cookie" in client.get("/get").headers
    clock.now += 400
    assert client.get("/get").json()["user"] == "alice"


def test_a_session_is_refreshed_from_exactly_a_quarter_of_idle_timeout():
    clock = Clock()
    client = TestClient(make_app(clock, idle_timeout=600))
    client.get("/set")
    clock.now += 149
    assert "set-cookie" not in client.get("/get").headers
    clock.now += 1
    assert "set-cookie" in client.get("/get").headers


def test_session_expires_at_its_absolute_lifetime_despite_activity():
    clock = Clock()
    client = TestClient(make_app(clock, idle_timeout=600, max_age=1000))
    client.get("/set")
    for _ in range(4):
        clock.now += 300
        client.get("/get")
    assert client.get("/get").json()["user"] is None


def test_a_stolen_cookie_kept_fresh_is_refused_past_max_age_by_a_client_ignoring_max_age():
    # A browser drops the cookie at its Max-Age; an attacker replaying it does not, and
    # keeps it fresh within idle_timeout. The server ends it at max_age all the same.
    clock = Clock()
    app = make_app(clock, idle_timeout=600, max_age=1000)
    name, _, value = (
        TestClient(app).get("/set").headers["set-cookie"].partition(";")[0].partition("=")
    )
    users = []
    for _ in range(4):
        clock.now += 300
        response = TestClient(app).get("/get", cookies={name: value})
        users.append(response.json()["user"])
        fresh = response.headers.get("set-cookie")
        if fresh is not None and fresh.partition(";")[0].partition("=")[2]:
            value = fresh.partition(";")[0].partition("=")[2]
    assert users == ["alice", "alice", "alice", None]


def test_storing_too_much_is_a_clear_server_error():
    app = make_app()
    errors: list[BaseException] = []

    class Spy:
        def on_response(self, request, response, duration_s, error):
            errors.append(error)

    app.observe(Spy())
    response = TestClient(app).get("/huge")
    assert response.status == 500
    assert "one cookie holds at most 4096" in str(errors[0])


def test_a_session_whose_cookie_is_exactly_max_bytes_is_written_and_one_byte_more_is_not():
    session = Session.fresh(lambda: "A" * 22, lambda: int(Clock().now))
    session["user"] = "alice" * 60

    def sessions(max_bytes: int) -> Sessions:
        return Sessions(SessionConfig(keys=KEYS, clock=Clock(), max_bytes=max_bytes))

    size = len("__Host-session") + 1 + len(sessions(4096).encode(session))
    assert len(sessions(size).encode(session)) == size - len("__Host-session") - 1
    with pytest.raises(SessionTooLarge):
        sessions(size - 1).encode(session)


def test_insecure_http_cookies_drop_secure_and_the_host_prefix():
    response = TestClient(make_app(insecure_http_cookies=True)).get("/set")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("session=") and "Secure" not in cookie


def test_host_prefix_with_insecure_cookies_refuses_to_build():
    with pytest.raises(ConfigError):
        SessionConfig(keys=KEYS, cookie_name="__Host-s", insecure_http_cookies=True)


@pytest.mark.parametrize("name", ["__host-s", "__SECURE-s"])
def test_a_prefix_in_another_case_with_insecure_cookies_refuses_to_build(name):
    # Browsers hold "__host-" to the __Host- rules too: every sign-in would be a 500.
    with pytest.raises(ConfigError, match="plain HTTP"):
        SessionConfig(keys=KEYS, cookie_name=name, insecure_http_cookies=True)


@pytest.mark.parametrize("same_site", ["None", "none", "Lax; Domain=example.com", ""])
def test_a_same_site_other_than_lax_or_strict_refuses_to_build(same_site):
    with pytest.raises(ConfigError, match="same_site"):
        SessionConfig(keys=KEYS, same_site=same_site)  # type: ignore[arg-type]


@pytest.mark.parametrize(("given", "written"), [("lax", "Lax"), ("STRICT", "Strict")])
def test_a_same_site_in_any_case_builds_and_is_written_as_spelled(given, written):
    # Starlette's session middleware takes "lax": a config moved from it must build.
    cookie = TestClient(make_app(same_site=given)).get("/set").headers["set-cookie"]
    assert cookie.endswith(f"SameSite={written}")


def test_short_session_key_refuses_to_build():
    with pytest.raises(ConfigError):
        Sessions(SessionConfig(keys=KeyRing(["short"])))


def unsafe_app(*middleware: object, **config: object) -> App:
    app = App(middleware=[Sessions(SessionConfig(keys=KEYS, **config)), *middleware])  # type: ignore[arg-type]

    @app.post("/change")
    async def change(request):
        return None

    return app


def test_sessions_with_unsafe_routes_and_no_csrf_refuse_to_build():
    with pytest.raises(ConfigError, match="POST /change"):
        unsafe_app().build()


def test_allow_no_csrf_lets_the_app_build():
    unsafe_app(allow_no_csrf=True).build()


def test_app_wide_csrf_satisfies_the_build_check():
    unsafe_app(CSRFProtect(CSRFConfig(keys=KEYS))).build()


def test_route_level_csrf_satisfies_the_build_check():
    csrf = CSRFProtect(CSRFConfig(keys=KEYS))
    app = App(middleware=[Sessions(SessionConfig(keys=KEYS))])

    @app.post("/change")
    @use(csrf.token_required)
    async def change(request):
        return Response.empty()

    app.build()


def test_sessions_on_a_mount_ask_no_csrf_of_unsafe_routes_outside_it():
    # Counted, POST /hook (which loads no session) refused the app, and allow_no_csrf,
    # the only way to build it, dropped the check for the mount's own routes as well.
    from daloy_edge import Router

    ui = Router()

    @ui.post("/settings")
    async def settings(request):
        return Response.empty()

    app = App()
    protect = CSRFProtect(CSRFConfig(keys=KEYS))
    app.mount("/ui", ui, middleware=[Sessions(SessionConfig(keys=KEYS)), protect])

    @app.post("/hook")
    async def hook(request):
        return Response.empty()

    app.build()


def test_sessions_on_a_mount_still_refuse_its_unprotected_unsafe_routes():
    from daloy_edge import Router

    ui = Router()

    @ui.post("/settings")
    async def settings(request):
        return Response.empty()

    app = App()
    app.mount("/ui", ui, middleware=[Sessions(SessionConfig(keys=KEYS))])
    with pytest.raises(ConfigError, match=r"unprotected: POST /ui/settings$"):
        app.build()


@pytest.mark.parametrize("field", ["max_age", "idle_timeout"])
def test_a_session_lifetime_of_nan_refuses_to_build(field):
    # No session is older than NaN: sessions never expired.
    with pytest.raises(ConfigError, match="positive"):
        SessionConfig(keys=KEYS, **{field: float("nan")})


def test_a_login_that_fails_after_storing_the_session_sets_no_cookie():
    """A handler that regenerates and fills the session, then fails (the sign-in could
    not be recorded): its 500 must not carry the new session, which signed the client in."""
    app = make_app()

    @app.get("/login-fails")
    async def login_fails(request):
        session = get_session(request)
        session.regenerate()
        session["user"] = "bob"
        raise RuntimeError("the audit store is down")

    client = TestClient(app)
    cookie = client.get("/set").headers["set-cookie"].partition(";")[0].partition("=")[2]
    for cookies in ({}, {"__Host-session": cookie}):
        response = client.get("/login-fails", cookies=cookies)
        assert response.status == 500
        assert "set-cookie" not in response.headers


def test_a_logout_that_fails_after_clearing_the_session_still_deletes_the_cookie():
    app = make_app()

    @app.get("/logout-fails")
    async def logout_fails(request):
        get_session(request).clear()
        raise RuntimeError("the revocation store is down")

    client = TestClient(app)
    cookie = client.get("/set").headers["set-cookie"].partition(";")[0].partition("=")[2]
    response = client.get("/logout-fails", cookies={"__Host-session": cookie})
    assert response.status == 500
    assert response.headers["set-cookie"].startswith("__Host-session=; Max-Age=0")


@pytest.mark.parametrize("after_clear", ["message", "csrf token"])
def test_a_logout_that_stores_after_clearing_then_fails_still_deletes_the_cookie(after_clear):
    """A logout that clears the session, stores a message (or issues a CSRF token for the
    next sign-in, which pins the new session), then fails: the 500 must still delete the
    cookie, where it sent nothing and the client stayed signed in after its logout."""
    app = App(
        middleware=[
            Sessions(SessionConfig(keys=KEYS, clock=Clock())),
            CSRFProtect(CSRFConfig(keys=KEYS)),
        ]
    )

    @app.get("/set")
    async def set_value(request):
        get_session(request)["user"] = "alice"
        return None

    @app.get("/logout-fails")
    async def logout_fails(request):
        session = get_session(request)
        session.clear()
        if after_clear == "message":
            session["flash"] = "signed out"
        else:
            csrf_token(request)
        raise RuntimeError("the revocation store is down")

    client = TestClient(app)
    cookie = client.get("/set").headers["set-cookie"].partition(";")[0].partition("=")[2]
    response = client.get("/logout-fails", cookies={"__Host-session": cookie})
    assert response.status == 500
    assert response.headers.get_all("set-cookie") == [
        "__Host-session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure; "
        "HttpOnly; SameSite=Lax"
    ]
