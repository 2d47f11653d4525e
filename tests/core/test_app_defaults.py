"""The defenses every App() has without configuration."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from daloy_edge import (
    App,
    ConfigError,
    Headers,
    HTTPError,
    NotFound,
    Request,
    RequestLimits,
    Router,
)
from daloy_edge.testing import TestClient


def make_app(**options: object) -> App:
    app = App(**options)  # type: ignore[arg-type]

    @app.get("/ok")
    async def ok(request: Request) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/sleep")
    async def sleep(request: Request) -> dict[str, bool]:
        await asyncio.sleep(float(request.query.get("s", "1") or "1"))
        return {"ok": True}

    @app.get("/fail")
    async def fail(request: Request) -> None:
        raise ValueError("database password is hunter2 at /srv/app/db.py")

    @app.get("/teapot")
    async def teapot(request: Request) -> None:
        raise HTTPError("short and stout", status=418, slug="teapot", title="I'm a teapot")

    return app


def test_unhandled_error_is_opaque_500_in_production() -> None:
    response = TestClient(make_app(env={})).get("/fail")
    assert response.status == 500
    body = response.json()
    assert set(body) == {"type", "title", "status", "request_id"}
    assert "hunter2" not in response.text and "db.py" not in response.text


def test_unhandled_error_shows_trace_in_development() -> None:
    response = TestClient(make_app(env={"DALOY_ENV": "development"})).get("/fail")
    assert response.status == 500
    assert "ValueError" in response.json()["detail"]
    assert response.json()["traceback"]


def test_development_trace_hides_a_password_in_the_message_of_the_cause() -> None:
    app = App(env={"DALOY_ENV": "development"})

    @app.get("/db")
    async def db(request: Request) -> None:
        try:
            raise ConnectionError("login failed: password=hunter2 token=tok_live_1234")
        except ConnectionError as exc:
            raise RuntimeError("the database is down") from exc

    response = TestClient(app).get("/db")
    assert response.status == 500
    assert "ConnectionError" in "".join(response.json()["traceback"])
    assert "hunter2" not in response.text and "tok_live_1234" not in response.text


def test_development_page_for_a_megabyte_message_is_bounded() -> None:
    app = App(env={"DALOY_ENV": "development"})

    @app.get("/huge")
    async def huge(request: Request) -> None:
        raise ValueError("x" * 1_000_000)

    response = TestClient(app).get("/huge")
    assert response.status == 500
    assert response.json()["detail"].startswith("ValueError: xxx")
    assert len(response.content) < 64 * 1024


def test_development_page_keeps_the_message_after_a_type_name_that_reads_as_a_key() -> None:
    app = App(env={"DALOY_ENV": "development"})

    @app.get("/lookup")
    async def lookup(request: Request) -> None:
        raise KeyError("user_id")

    body = TestClient(app).get("/lookup").json()
    assert body["detail"] == "KeyError: 'user_id'"
    assert body["traceback"][-1] == "KeyError: 'user_id'\n"


def test_development_page_for_an_exception_whose_str_raises_names_that_exception() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise ValueError("no text")

    app = App(env={"DALOY_ENV": "development"})

    @app.get("/unprintable")
    async def unprintable(request: Request) -> None:
        raise Unprintable

    response = TestClient(app).get("/unprintable")
    assert response.status == 500
    assert response.json()["detail"].startswith("Unprintable: ")


def test_unknown_environment_refuses_to_build() -> None:
    with pytest.raises(ConfigError):
        App(env={"DALOY_ENV": "staging"})


@pytest.mark.parametrize("field", ["max_path_bytes", "max_query_bytes"])
def test_a_request_line_bound_that_would_refuse_every_request_refuses_to_build(field) -> None:
    with pytest.raises(ConfigError, match=field):
        RequestLimits(**{field: 0})


@pytest.mark.parametrize(
    "field",
    [
        "max_headers",
        "max_header_bytes",
        "max_total_header_bytes",
        "max_path_bytes",
        "max_query_bytes",
    ],
)
def test_a_request_bound_of_nan_refuses_to_build_rather_than_bound_nothing(field: str) -> None:
    # No count or size exceeds NaN: a bound read as float("nan") let 431s and 414s lapse.
    with pytest.raises(ConfigError, match=field):
        RequestLimits(**{field: float("nan")})


def test_a_request_timeout_that_is_not_a_number_refuses_to_build() -> None:
    with pytest.raises(ConfigError, match="request_timeout"):
        App(env={}, request_timeout=float("nan"))


def test_custom_http_error_renders_problem() -> None:
    body = TestClient(make_app()).get("/teapot").json()
    assert body["status"] == 418 and body["type"] == "urn:daloy-edge:problem:teapot"
    assert body["detail"] == "short and stout"


def test_http_error_given_only_a_status_is_named_for_that_status() -> None:
    body = HTTPError("no such order", status=404).problem(None)
    assert body["title"] == "Not Found" and body["type"].endswith(":not-found")
    assert HTTPError(status=409).problem(None)["title"] == "Conflict"
    assert HTTPError(status=418).problem(None)["title"] == "Client Error"


def test_http_error_subclass_setting_only_its_status_is_named_for_it() -> None:
    class Conflict(HTTPError):
        status = 409

    assert Conflict().problem(None)["title"] == "Conflict"
    assert Conflict().type.endswith(":conflict")


@pytest.mark.parametrize("status", [200, 204, 302, 304, 399])
def test_an_http_error_with_a_status_that_is_no_error_is_a_500_problem(status: int) -> None:
    # A problem sent as a 200 told a client that reads the status that it had worked;
    # a 302 was a redirect to nowhere, a 204 or 304 dropped the problem document.
    app = App(request_log=False)

    @app.get("/refused")
    async def refused(request: Request) -> None:
        raise HTTPError("payment declined", status=status)

    response = TestClient(app).get("/refused")
    assert response.status == 500
    assert response.json()["title"] == "Internal Server Error"


def test_an_http_error_subclass_with_a_status_that_is_no_error_is_refused() -> None:
    with pytest.raises(ValueError, match="400 to 599"):

        class Accepted(HTTPError):
            status = 202


@pytest.mark.parametrize("slug", ["note missing", "a<b>", "note?x#y", "ünï", "", "/notes"])
def test_an_http_error_with_a_slug_that_makes_no_urn_is_a_500_problem(slug: str) -> None:
    # The type is the prefix and the slug: "note missing" made it
    # "urn:daloy-edge:problem:note missing", a type no URI parser reads (RFC 9457 3.1.1).
    app = App(request_log=False)

    @app.get("/refused")
    async def refused(request: Request) -> None:
        raise NotFound("no such note", slug=slug)

    response = TestClient(app).get("/refused")
    assert response.status == 500
    assert response.json()["type"] == "urn:daloy-edge:problem:internal-error"


def test_an_http_error_subclass_with_a_slug_that_makes_no_urn_is_refused() -> None:
    with pytest.raises(ValueError, match="slug"):

        class NoteMissing(HTTPError):
            status, slug, title = 404, "note missing", "Not Found"


def test_an_http_error_slug_of_uri_unreserved_characters_names_its_type() -> None:
    error = NotFound(slug="billing:Note_missing/v2.1~x")
    assert error.type == "urn:daloy-edge:problem:billing:Note_missing/v2.1~x"


def test_http_error_extra_members_cannot_restate_type_title_status_or_request_id() -> None:
    app = App()

    @app.get("/forged")
    async def forged(request: Request) -> None:
        members = {"type": "about:blank", "title": "OK", "status": 200, "request_id": "forged"}
        raise HTTPError(None, status=418, extra={**members, "detail": "d", "order": 7})

    response = TestClient(app).get("/forged", headers={"x-request-id": "abc"})
    assert response.status == 418
    assert response.json() == {
        "type": "urn:daloy-edge:problem:client-error",
        "title": "Client Error",
        "status": 418,
        "order": 7,
        "request_id": "abc",
    }


def test_deadline_exceeded_is_504() -> None:
    response = TestClient(make_app(request_timeout=0.05)).get("/sleep?s=1")
    assert response.status == 504
    assert response.json()["type"].endswith("deadline-exceeded")


def test_a_handler_swallowing_the_deadlines_cancellation_still_answers_504() -> None:
    # Its fallback ("except CancelledError: return cached") came after the deadline: the
    # client was promised an answer by then, and the 504 says it was late.
    app = App(request_timeout=0.05)
    swallowed: list[bool] = []

    @app.get("/stubborn")
    async def stubborn(request: Request) -> dict[str, bool]:
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            swallowed.append(True)
        return {"late": True}

    response = TestClient(app).get("/stubborn")
    assert swallowed == [True]
    assert response.status == 504
    assert response.json()["type"].endswith("deadline-exceeded")


def test_runtime_deadline_tightens_app_deadline() -> None:
    app = make_app(request_timeout=10)
    client = TestClient(app)
    request = Request("GET", "/sleep", query_string="s=1", deadline=time.monotonic() + 0.05)
    response = client._loop.run_until_complete(app.handle(request))
    assert response.status == 504


def test_a_request_whose_runtime_deadline_has_passed_is_504_before_its_handler_runs() -> None:
    # A handler that never awaits cannot be interrupted: let in, it did all its work (a
    # write, a charge) for an answer the runtime no longer waits for.
    app = App(request_timeout=10)
    ran: list[bool] = []

    @app.post("/charge")
    async def charge(request: Request) -> dict[str, bool]:
        ran.append(True)
        return {"charged": True}

    client = TestClient(app)
    request = Request("POST", "/charge", deadline=time.monotonic() - 1)
    response = client._loop.run_until_complete(app.handle(request))
    assert response.status == 504
    assert ran == []


def test_a_cancellation_from_outside_before_the_deadline_propagates_and_is_no_504() -> None:
    # The server cancels the request task (it shuts down, the client left): the app's
    # deadline is still far off, so this is no deadline of its own to answer 504 for.
    app = App(request_timeout=10)
    waiting: list[asyncio.Future[None]] = []

    @app.get("/wait")
    async def wait(request: Request) -> None:
        waiting.append(asyncio.get_running_loop().create_future())
        await waiting[0]

    async def cancel_while_waiting() -> bool:
        task = asyncio.ensure_future(app.handle(Request("GET", "/wait")))
        while not waiting:
            await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    client = TestClient(app)
    assert client._loop.run_until_complete(cancel_while_waiting())


def test_timeout_error_from_handler_is_not_a_deadline() -> None:
    app = App()

    @app.get("/t")
    async def t(request: Request) -> None:
        raise TimeoutError("upstream")

    assert TestClient(app).get("/t").status == 500


def test_too_many_headers_is_431() -> None:
    headers = [(f"x-h{i}", "v") for i in range(101)]
    assert TestClient(make_app()).get("/ok", headers=headers).status == 431


def test_exactly_max_headers_fields_are_read_and_one_more_is_431() -> None:
    # The test client adds Host: 99 of ours and it make the default 100.
    client = TestClient(make_app())
    assert client.get("/ok", headers=[(f"x-h{i}", "v") for i in range(99)]).status == 200
    assert client.get("/ok", headers=[(f"x-h{i}", "v") for i in range(100)]).status == 431
    # Fields, not lines: 100 fields, one of them on two lines.
    split = [(f"x-h{i}", "v") for i in range(98)] + [("x-dup", "a"), ("x-dup", "b")]
    assert client.get("/ok", headers=split).status == 200


def test_oversized_header_is_431() -> None:
    assert TestClient(make_app()).get("/ok", headers={"x-big": "a" * 9000}).status == 431


def test_a_header_field_of_exactly_max_header_bytes_is_read_and_one_byte_more_is_431() -> None:
    # A field's size is its name and value together: 5 + 8187 = the default 8192.
    client = TestClient(make_app())
    assert client.get("/ok", headers={"x-big": "a" * 8187}).status == 200
    assert client.get("/ok", headers={"x-big": "a" * 8188}).status == 431


def test_total_header_size_is_431() -> None:
    app = make_app(limits=RequestLimits(max_total_header_bytes=1000))
    headers = [(f"x-h{i}", "a" * 100) for i in range(20)]
    assert TestClient(app).get("/ok", headers=headers).status == 431


def test_path_one_past_the_limit_is_414_problem() -> None:
    response = TestClient(make_app()).get("/" + "a" * 8192)
    assert response.status == 414
    assert response.json()["type"] == "urn:daloy-edge:problem:uri-too-long"  # type: ignore[index]


def test_path_at_the_limit_is_routed() -> None:
    assert TestClient(make_app()).get("/" + "a" * 8191).status == 404


def test_query_one_past_the_limit_is_414() -> None:
    assert TestClient(make_app()).get("/ok?q=" + "a" * 16383).status == 414


def test_query_at_the_limit_is_served() -> None:
    assert TestClient(make_app()).get("/ok?q=" + "a" * 16382).status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"x-a": "a\r\nset-cookie: x=1"},
        {"x-a": "a\nb"},
        {"x-a": "a\x00b"},
        {"bad header": "v"},
        {"x-a:": "v"},
        {"": "v"},
    ],
    ids=["crlf", "lf", "nul", "space-in-name", "colon-in-name", "empty-name"],
)
def test_malformed_header_is_400(headers: dict[str, str]) -> None:
    assert TestClient(make_app()).get("/ok", headers=headers).status == 400


def test_host_sent_on_two_lines_is_400() -> None:
    # RFC 9112 3.2, as uvicorn and gunicorn answer: no line may name the origin.
    lines = [("host", "app.example"), ("host", "evil.example")]
    response = TestClient(make_app()).get("/ok", headers=lines)
    assert response.status == 400
    assert response.json()["detail"] == "repeated Host"


@pytest.mark.parametrize("method", ["G ET", "get\r\n", "X" * 20, "GE\x00T"])
def test_malformed_method_is_400(method: str) -> None:
    assert TestClient(make_app()).request(method, "/ok").status == 400


def test_request_id_is_kept_when_safe() -> None:
    response = TestClient(make_app()).get("/ok", headers={"x-request-id": "abc-123.x:y_z"})
    assert response.headers["x-request-id"] == "abc-123.x:y_z"


@pytest.mark.parametrize("value", ["", "a" * 129, "a b", "<script>", "a;b", "é"])
def test_unsafe_request_id_is_replaced(value: str) -> None:
    response = TestClient(make_app()).get("/ok", headers={"x-request-id": value})
    assert response.headers["x-request-id"] != value
    assert len(response.headers["x-request-id"]) == 36


@pytest.mark.parametrize("value", [" abc-123 ", "\tabc-123", "abc-123\t"])
def test_request_id_with_whitespace_around_it_is_kept_without_it(value: str) -> None:
    # HTTP servers strip it before the app runs; ASGI scopes and Lambda events may not.
    response = TestClient(make_app()).get("/ok", headers={"x-request-id": value})
    assert response.headers["x-request-id"] == "abc-123"


def test_request_id_of_129_characters_with_whitespace_around_it_is_replaced() -> None:
    response = TestClient(make_app()).get("/ok", headers={"x-request-id": " " + "a" * 129})
    assert len(response.headers["x-request-id"]) == 36


def test_repeated_request_id_is_replaced() -> None:
    repeated = [("x-request-id", "a"), ("x-request-id", "b")]
    response = TestClient(make_app()).get("/ok", headers=repeated)
    assert len(response.headers["x-request-id"]) == 36


def test_server_timing_is_present() -> None:
    assert "total;dur=" in TestClient(make_app()).get("/ok").headers["server-timing"]


def test_server_timing_can_be_hidden() -> None:
    assert (
        "server-timing" not in TestClient(make_app(expose_server_timing=False)).get("/ok").headers
    )


def test_head_is_served_by_get_without_body() -> None:
    response = TestClient(make_app()).head("/ok")
    assert response.status == 200 and response.content == b""


def test_head_states_the_content_length_of_the_get_body() -> None:
    response = TestClient(make_app()).head("/ok")
    assert response.headers["content-length"] == str(len(b'{"ok":true}'))


def app_with_a_denying_admin_mount() -> App:
    """An app whose ``/admin`` mount (one route, ``/stats``) refuses every request 403."""

    async def deny(request: Request, call_next: object) -> None:
        raise HTTPError(status=403, slug="forbidden", title="Forbidden")

    app = App()
    admin = Router()

    @admin.get("/stats")
    async def stats(request: Request) -> dict[str, int]:
        return {"requests": 1}

    app.mount("/admin", admin, middleware=[deny])
    return app


def test_mount_middleware_runs_for_unmatched_paths() -> None:
    client = TestClient(app_with_a_denying_admin_mount())
    assert client.get("/admin/stats").status == 403
    assert client.get("/admin/unknown").status == 403
    assert client.get("/administrator").status == 404


def test_a_catch_all_template_does_not_take_a_mounts_paths_past_its_middleware() -> None:
    app = app_with_a_denying_admin_mount()

    @app.get("/{page:path}")
    async def page(request: Request) -> dict[str, str]:
        return {"page": request.path_params["page"]}

    client = TestClient(app)
    assert client.get("/admin/stats").status == 403
    assert client.get("/admin/unknown").status == 403
    assert client.get("/home").json() == {"page": "home"}


@pytest.mark.parametrize("answer", [None, {"ok": True}])
def test_middleware_that_returns_no_response_is_a_500_problem(answer: object) -> None:
    async def forgets(request: Request, call_next: object) -> object:
        await call_next(request)  # type: ignore[operator]
        return answer

    app = App(middleware=[forgets])

    @app.get("/ok")
    async def ok(request: Request) -> dict[str, bool]:
        return {"ok": True}

    response = TestClient(app).get("/ok")
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "x-request-id" in response.headers


def test_mounted_route_pattern_is_recorded() -> None:
    app = App()
    api = Router()
    seen: list[str | None] = []

    @api.get("/items/{id}")
    async def item(request: Request) -> None:
        seen.append(request.route)

    app.mount("/api", api)
    TestClient(app).get("/api/items/7")
    assert seen == ["/api/items/{id}"]


def test_middleware_sees_error_responses() -> None:
    async def stamp(request: Request, call_next: object) -> object:
        response = await call_next(request)  # type: ignore[operator]
        response.headers["x-stamp"] = "1"
        return response

    app = make_app(middleware=[stamp])
    assert TestClient(app).get("/fail").headers["x-stamp"] == "1"
    assert TestClient(app).get("/missing").headers["x-stamp"] == "1"


def test_duplicate_route_refuses_to_build() -> None:
    app = make_app()
    with pytest.raises(ConfigError):
        app.add_route("/ok", lambda r: None)


def test_configuring_after_first_request_is_refused() -> None:
    app = make_app()
    TestClient(app).get("/ok")
    with pytest.raises(ConfigError):
        app.use(lambda r, n: n(r))  # type: ignore[arg-type,return-value]


def test_startup_hooks_run_once() -> None:
    app = make_app()
    calls: list[int] = []
    app.on_startup(lambda: calls.append(1))
    client = TestClient(app)
    client.get("/ok")
    client.get("/ok")
    assert calls == [1]


def test_a_startup_hook_added_after_startup_is_refused_not_silently_skipped() -> None:
    app = make_app()
    TestClient(app).get("/ok")
    with pytest.raises(ConfigError, match="start-up"):
        app.on_startup(lambda: None)


async def test_a_failing_shutdown_hook_does_not_keep_the_others_from_running() -> None:
    app = make_app()
    ran: list[str] = []

    @app.on_shutdown
    def close_pool() -> None:
        raise OSError("pool already closed")

    app.on_shutdown(lambda: ran.append("flush logs"))
    with pytest.raises(OSError):
        await app.shutdown()
    assert ran == ["flush logs"]


def test_failed_startup_runs_every_hook_again_on_the_next_request() -> None:
    app = make_app()
    calls: list[str] = []

    @app.on_startup
    def first() -> None:
        calls.append("first")
        if calls.count("first") == 1:
            raise OSError("secrets endpoint not reachable")

    app.on_startup(lambda: calls.append("second"))
    client = TestClient(app)
    assert client.get("/ok").status == 503
    assert client.get("/ok").status == 200
    assert calls == ["first", "first", "second"]


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[int, BaseException | None]] = []

    def on_response(
        self, request: Request, response: object, duration: float, error: BaseException | None
    ) -> None:
        self.seen.append((response.status, error))  # type: ignore[attr-defined]


def _failing_startup_app(**options: object) -> App:
    app = make_app(**options)

    @app.on_startup
    def load_keys() -> None:
        raise OSError("secrets endpoint said password=hunter2")

    return app


def test_a_request_whose_startup_fails_is_refused_with_a_503_problem_not_an_exception() -> None:
    response = TestClient(_failing_startup_app()).get("/ok")
    assert response.status == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("startup-failed")  # type: ignore[index]
    assert "x-request-id" in response.headers and "server-timing" in response.headers


@pytest.mark.parametrize("raised", [SystemExit(2), KeyboardInterrupt(), GeneratorExit()])
def test_a_startup_hook_raising_a_base_exception_is_a_503_problem_not_a_stopped_process(
    raised: BaseException,
) -> None:
    # sys.exit() from a configuration loader: let through, it ended the Lambda
    # environment or reached the server, which printed it and answered a bare 500.
    app = make_app()

    @app.on_startup
    def load_settings() -> None:
        raise raised

    response = TestClient(app).get("/ok")
    assert response.status == 503
    assert response.json()["type"].endswith("startup-failed")  # type: ignore[index]


def test_a_failed_startup_never_shows_the_exception_text_to_the_client() -> None:
    response = TestClient(_failing_startup_app()).get("/ok")
    assert "hunter2" not in response.text and "OSError" not in response.text


def test_a_failed_startup_is_logged_with_the_hooks_exception() -> None:
    recorder = _Recorder()
    TestClient(_failing_startup_app(observers=[recorder])).get("/ok")
    [(status, error)] = recorder.seen
    assert status == 503 and isinstance(error, OSError)


def test_a_failed_startup_answer_gets_the_headers_middleware_adds_to_refused_requests() -> None:
    from daloy_edge.middleware.secure_headers import SecureHeaders

    app = _failing_startup_app(middleware=[SecureHeaders()])
    response = TestClient(app).get("/ok")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_requests_waiting_for_a_startup_that_fails_are_refused_not_served() -> None:
    app = make_app()
    ready: list[str] = []
    runs: list[int] = []

    @app.on_startup
    async def connect() -> None:
        runs.append(1)
        await asyncio.sleep(0.02)
        if len(runs) == 1:
            raise OSError("pool not reachable")
        ready.append("pool")

    @app.get("/ready")
    async def is_ready(request: Request) -> dict[str, list[str]]:
        return {"ready": list(ready)}

    client = TestClient(app)
    answers = await asyncio.gather(*(client.arequest("GET", "/ready") for _ in range(3)))
    assert [a.status for a in answers] == [503, 503, 503]
    assert (await client.arequest("GET", "/ready")).json() == {"ready": ["pool"]}


async def test_request_arriving_during_an_awaited_startup_waits_for_it() -> None:
    app = make_app()
    ready: list[str] = []

    @app.on_startup
    async def connect() -> None:
        await asyncio.sleep(0.05)
        ready.append("pool")

    @app.get("/ready")
    async def is_ready(request: Request) -> dict[str, list[str]]:
        return {"ready": list(ready)}

    client = TestClient(app)
    first, second = await asyncio.gather(
        client.arequest("GET", "/ready"), client.arequest("GET", "/ready")
    )
    assert first.json() == second.json() == {"ready": ["pool"]}


def test_a_request_waiting_for_startup_on_another_threads_loop_is_woken() -> None:
    import threading

    app = make_app()
    client = TestClient(app)
    other_loop = asyncio.new_event_loop()

    @app.on_startup
    async def connect() -> None:
        # Start-up ends only once the other loop's request waits for it.
        while not app._starting:
            await asyncio.sleep(0.001)

    statuses: list[int] = []
    other = threading.Thread(
        target=lambda: statuses.append(
            other_loop.run_until_complete(client.arequest("GET", "/ok")).status
        )
    )
    first = threading.Thread(target=lambda: statuses.append(client.get("/ok").status))
    first.start()
    while not app._started:
        time.sleep(0.001)
    other.start()
    first.join()
    # Nothing else is scheduled on the other loop: without a wake-up it sleeps forever.
    other.join(timeout=10)
    woken = not other.is_alive()
    if not woken:
        other_loop.call_soon_threadsafe(lambda: None)
        other.join()
    other_loop.close()
    assert woken
    assert statuses == [200, 200]


async def test_a_request_joining_a_startup_that_ends_meanwhile_is_not_left_waiting() -> None:
    # Start-up on another thread can end between a request reading its waiter list and
    # joining it: the wake-ups went out to the list before the request was in it.
    app = make_app()

    class EndedBeforeTheJoin(list[object]):
        def append(self, waiter: object) -> None:
            app._starting = None
            super().append(waiter)

    app._started = True
    app._starting = EndedBeforeTheJoin()  # type: ignore[assignment]
    await asyncio.wait_for(app.startup(), timeout=2)


def test_observer_failure_never_breaks_the_response() -> None:
    class Broken:
        def on_response(self, *args: object) -> None:
            raise RuntimeError("observer bug")

    app = make_app(observers=[Broken()])
    assert TestClient(app).get("/ok").status == 200


def test_return_values_are_converted() -> None:
    app = App()
    app.add_route("/none", lambda r: None)
    app.add_route("/str", lambda r: "hi")
    app.add_route("/list", lambda r: [1, 2])
    client = TestClient(app)
    assert client.get("/none").status == 204
    assert client.get("/str").headers["content-type"].startswith("text/plain")
    assert client.get("/list").json() == [1, 2]


def test_generated_request_ids_are_uuid4() -> None:
    import uuid

    from daloy_edge._app import new_request_id

    ids = {new_request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_adding_a_route_after_first_request_is_refused() -> None:
    app = make_app()
    TestClient(app).get("/ok")
    with pytest.raises(ConfigError, match="frozen"):
        app.add_route("/late", lambda r: None)


def test_adding_a_route_to_a_mounted_router_after_serving_is_refused() -> None:
    app = App()
    api = Router()
    app.mount("/api", api)
    TestClient(app).get("/api/x")
    with pytest.raises(ConfigError, match="frozen"):
        api.add_route("/late", lambda r: None)


@pytest.mark.parametrize("method", ["get", "delete", "Post", "hEAD"])
def test_lowercase_method_is_refused_not_served_as_the_upper_case_route(method: str) -> None:
    # A proxy rule that denies DELETE lets "delete" through (methods are case-sensitive).
    app = make_app()
    response = asyncio.run(app.handle(Request(method, "/ok")))
    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_a_header_split_over_lines_that_are_too_large_together_is_431() -> None:
    # Joined as runtimes that join repeated lines deliver them, one 10 KB field.
    headers = [("cookie", "a=" + "x" * 5000), ("cookie", "b=" + "y" * 5000)]
    assert TestClient(make_app()).get("/ok", headers=headers).status == 431


def test_cookie_crumbs_on_lines_of_their_own_count_as_one_header_field() -> None:
    # An HTTP/2 browser sends each cookie on a line of its own; runtimes that join the
    # lines deliver 46 fields.
    headers = [("cookie", f"c{i}=1") for i in range(60)] + [(f"x-h{i}", "v") for i in range(45)]
    assert TestClient(make_app()).get("/ok", headers=headers).status == 200


def _query_seen(raw_path: str, query: str) -> tuple[int, object]:
    app = App()

    @app.get("/q")
    async def q(request: Request) -> dict[str, object]:
        return {"items": request.query.items(), "url": request.url}

    request = Request("GET", raw_path, query_string=query, headers=Headers({"host": "h"}))
    response = asyncio.run(app.handle(request))
    return response.status, json.loads(response.body)


@pytest.mark.parametrize("query", ["a=1 2", "a=1\r\nX-Injected: 1", "a=1\n", "a=1\r", "a=\x00"])
def test_a_raw_space_or_line_break_in_the_query_is_a_400(query: str) -> None:
    # Sent raw (an ALB's query, a lenient server), where a client escapes them: a line
    # break in request.url would split a log or a header built from it.
    status, body = _query_seen("/q", query)
    assert status == 400
    assert body["detail"] == "raw control character in query string"


def test_a_fragment_sent_in_the_query_adds_no_field() -> None:
    status, body = _query_seen("/q", "a=1#&b=2")
    assert status == 200
    assert body == {"items": [["a", "1"]], "url": "https://h/q?a=1"}


def test_a_fragment_sent_after_the_path_hides_the_query_behind_it() -> None:
    status, body = _query_seen("/q#x", "a=1")
    assert status == 200
    assert body == {"items": [], "url": "https://h/q"}


def test_an_escaped_path_without_a_fragment_keeps_its_query() -> None:
    # Only a fragment hides the query; an escape sends the path through check_path.
    status, body = _query_seen("/%71", "a=1")
    assert status == 200
    assert body == {"items": [["a", "1"]], "url": "https://h/%71?a=1"}


@pytest.mark.parametrize("raw_path", ["q", "..", "a/b"])
def test_a_path_that_does_not_start_with_a_slash_is_a_400(raw_path: str) -> None:
    status, body = _query_seen(raw_path, "")
    assert status == 400
    assert body["detail"] == "rejected path: path must start with /"
