"""protect(): middleware in front of a plain handler that stays unchanged."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import subprocess
import sys
import textwrap
from http import HTTPStatus
from pathlib import Path
from types import ModuleType

import pytest
from daloy_edge_aws_lambda import current_request, protect

from daloy_edge import ConfigError, Request, Response, Unauthorized
from daloy_edge.types import CallNext
from tests.conformance.harness.gateways import build_event, read_result
from tests.conformance.harness.inprocess import Context

ROOT = Path(__file__).resolve().parents[3]


class RequireToken:
    def __init__(self) -> None:
        self.seen = 0

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        self.seen += 1
        if request.headers.get("x-token") != "letmein":
            raise Unauthorized("token required")
        request.principal = "tester"
        response = await call_next(request)
        response.headers["x-protected"] = "1"
        return response


def call(fn, shape: str, target: str, headers=()):  # type: ignore[no-untyped-def]
    event = build_event(shape, "GET", target, [("host", "example.test"), *headers], b"")
    return read_result(shape, fn(event, Context()))


def make(calls: list[object]):  # type: ignore[no-untyped-def]
    guard = RequireToken()

    @protect(guard)
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        """Plain handler."""
        calls.append((event, context))
        return {
            "statusCode": 200,
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": json.dumps({"principal": current_request().principal}),
        }

    return lambda_handler, guard


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "alb", "alb-multi"])
def test_refused_request_never_reaches_the_plain_handler(shape: str) -> None:
    calls: list[object] = []
    fn, _ = make(calls)
    reply = call(fn, shape, "/anything")
    assert reply.status == 401
    assert reply.headers.get("content-type") == "application/problem+json"
    assert calls == []


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "alb-multi"])
def test_allowed_request_runs_the_plain_handler_with_event_and_context(shape: str) -> None:
    calls: list[object] = []
    fn, _ = make(calls)
    reply = call(fn, shape, "/anything?x=1", [("X-Token", "letmein")])
    assert reply.status == 200
    assert reply.json() == {"principal": "tester"}
    event, context = calls[0]  # type: ignore[misc]
    assert isinstance(event, dict) and isinstance(context, Context)


def test_plain_result_gets_middleware_headers_and_keeps_its_cookies() -> None:
    fn, _ = make([])
    reply = call(fn, "http-v2", "/", [("X-Token", "letmein")])
    assert reply.headers.get("x-protected") == "1"
    assert reply.headers.get("x-request-id")
    assert reply.headers.get_all("set-cookie") == ["a=1", "b=2"]


def test_traversal_is_refused_before_the_plain_handler() -> None:
    calls: list[object] = []
    fn, guard = make(calls)
    reply = call(fn, "rest-v1", "/files/%2e%2e/etc/passwd", [("X-Token", "letmein")])
    assert reply.status == 400
    assert calls == [] and guard.seen == 0


def test_decorated_handler_keeps_its_name_and_doc() -> None:
    fn, _ = make([])
    assert fn.__name__ == "lambda_handler"
    assert fn.__doc__ == "Plain handler."


def test_non_proxy_result_is_rendered_as_json() -> None:
    @protect()
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"hello": "world"}

    reply = call(lambda_handler, "http-v2", "/")
    assert reply.status == 200
    assert reply.json() == {"hello": "world"}


def test_current_request_outside_an_invocation_raises() -> None:
    with pytest.raises(LookupError):
        current_request()


def test_non_positive_max_body_is_refused() -> None:
    with pytest.raises(ConfigError):
        protect(max_body=0)(lambda event, context: None)


def test_a_nan_max_body_is_refused_rather_than_read_as_no_limit() -> None:
    with pytest.raises(ConfigError, match="max_body"):
        protect(max_body=float("nan"))(lambda event, context: None)


def test_middleware_given_twice_refuses_at_decoration_not_at_every_invocation() -> None:
    # The app was built by the first invocation: the ConfigError escaped each one, and
    # the import that should have failed succeeded.
    guard = RequireToken()
    with pytest.raises(ConfigError, match="RequireToken object runs twice"):
        protect(guard, guard)(lambda event, context: None)


def load_example(monkeypatch: pytest.MonkeyPatch, keys: str | None) -> ModuleType:
    if keys is None:
        monkeypatch.delenv("EXAMPLE_API_KEYS", raising=False)
    else:
        monkeypatch.setenv("EXAMPLE_API_KEYS", keys)
    spec = importlib.util.spec_from_file_location(
        "example_lambda_handler", ROOT / "examples" / "lambda" / "handler.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "example_lambda_handler", module)
    spec.loader.exec_module(module)
    return module


def test_example_refuses_to_start_without_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError):
        load_example(monkeypatch, None)


def test_example_answers_401_without_the_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_example(monkeypatch, "k" * 32)
    reply = call(module.lambda_handler, "http-v2", "/?name=ada", [("X-API-Key", "wrong")])
    assert reply.status == 401


def test_example_greets_with_a_valid_rotated_key(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_example(monkeypatch, "n" * 32 + "," + "o" * 32)
    reply = call(module.lambda_handler, "rest-v1", "/?name=ada", [("X-API-Key", "o" * 32)])
    assert reply.status == 200
    assert reply.json() == {"hello": "ada", "principal": "api-key"}


@pytest.mark.parametrize("shape", ["rest-v1", "alb-multi"])
def test_example_answers_401_to_a_valid_key_followed_by_a_second_key_line(
    monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    # HTTP APIs join the lines into "<key>,wrong", which never matches: neither may these.
    module = load_example(monkeypatch, "k" * 32)
    lines = [("X-API-Key", "k" * 32), ("X-API-Key", "wrong")]
    assert call(module.lambda_handler, shape, "/?name=ada", lines).status == 401


def test_async_plain_handler_result_is_awaited_and_translated() -> None:
    @protect()
    async def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": 201, "headers": {"x-made": "yes"}, "body": "made"}

    reply = call(lambda_handler, "rest-v1", "/")
    assert reply.status == 201
    assert reply.headers.get("x-made") == "yes"
    assert reply.body == b"made"


def test_a_sync_plain_handler_may_run_its_own_event_loop() -> None:
    # Called inside the app's running loop, asyncio.run() raised "cannot be called from
    # a running event loop": a handler that worked unprotected answered 500.
    async def lookup() -> str:
        await asyncio.sleep(0)
        return "found"

    @protect()
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": 200, "body": asyncio.run(lookup())}

    for _ in range(2):
        reply = call(lambda_handler, "http-v2", "/")
        assert (reply.status, reply.body) == (200, b"found")


def test_a_sync_plain_handler_may_run_its_own_event_loop_when_it_first_loads_asyncio() -> None:
    # In a fresh process the first invocation runs with asyncio not loaded; a handler
    # importing it (or a library that does) made the app's loop the running one mid-call,
    # and asyncio.run() answered 500 on the cold start only. A fresh interpreter: pytest
    # has loaded asyncio here.
    code = textwrap.dedent("""
        import sys
        from daloy_edge_aws_lambda import protect

        @protect()
        def lambda_handler(event, context):
            import asyncio

            async def lookup():
                await asyncio.sleep(0)
                return "found"

            return {"statusCode": 200, "body": asyncio.run(lookup())}

        assert "asyncio" not in sys.modules
        event = {
            "version": "2.0", "rawPath": "/", "rawQueryString": "",
            "headers": {"host": "example.test"},
            "requestContext": {"http": {"method": "GET", "sourceIp": "203.0.113.9"}},
        }
        for _ in range(2):
            result = lambda_handler(event, None)
            print(result["statusCode"], result["body"], file=sys.stderr)
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["200 found", "200 found"]


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "alb", "alb-multi"])
def test_a_body_over_the_limit_is_413_before_the_plain_handler(shape: str) -> None:
    # The plain handler reads event["body"] itself, so nothing read it through the
    # bounded reader: a 100 kB body reached a handler protected with max_body=1024.
    calls: list[object] = []

    @protect(max_body=1024)
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        calls.append(event)
        return {"statusCode": 200, "body": "ok"}

    headers = [("host", "example.test"), ("content-type", "text/plain")]
    event = build_event(shape, "POST", "/upload", headers, b"x" * 100_000)
    reply = read_result(shape, lambda_handler(event, Context()))
    assert reply.status == 413
    assert calls == []


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": 200, "body": 5},
        {"statusCode": 200, "body": "!!!!", "isBase64Encoded": True},
        {"statusCode": 99, "body": ""},
        {"statusCode": 1000, "body": ""},
        {"statusCode": 200, "cookies": "sid=1; Secure; HttpOnly", "body": ""},
        {"statusCode": 200, "multiValueHeaders": {"Vary": "Origin"}, "body": ""},
        {"statusCode": 200, "headers": {"Set-Cookie": ["a=1", "b=2"]}, "body": ""},
        {"statusCode": 200, "headers": {"X-Cacheable": True}, "body": ""},
        {"statusCode": 200, "headers": {"X-Next": "/a\r\nSet-Cookie: sid=evil"}, "body": ""},
        {"statusCode": 200, "multiValueHeaders": {"Bad Name": ["1"]}, "body": ""},
        {"statusCode": 200, "cookies": ["sid=1\nX-Injected: 1"], "body": ""},
        {"statusCode": 200, "body": "aGk=", "isBase64Encoded": 1},
        {"statusCode": 200, "body": "aGk=", "isBase64Encoded": "no"},
        {"statusCode": 200.5, "body": ""},
        {"statusCode": "2_00", "body": ""},
        {"statusCode": "\u0662\u0660\u0660", "body": ""},
        {"statusCode": True, "body": ""},
    ],
    ids=[
        "int-body",
        "invalid-base64",
        "status-99",
        "status-1000",
        "cookies-string",
        "multi-value-string",
        "header-list",
        "header-bool",
        "header-line-break",
        "header-name-not-a-token",
        "cookie-line-break",
        "base64-flag-number",
        "base64-flag-word",
        "status-fraction",
        "status-underscore",
        "status-arabic-indic-digits",
        "status-bool",
    ],
)
def test_an_odd_plain_result_is_a_500_problem(result: dict[str, object]) -> None:
    # Passed on as they were, these gave five NUL bytes, an empty 200, a status no
    # gateway can send, a Set-Cookie or Vary field per character of the string, or
    # headers reading "['a=1', 'b=2']" and "True"; or a line break that split a field
    # into a second one, which a Response built by a route refuses; or a 200 that
    # int() read from 200.5, "2_00" or Arabic-Indic digits; or a body base64-decoded
    # for an isBase64Encoded that was merely truthy.
    @protect()
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return result

    reply = call(lambda_handler, "http-v2", "/")
    assert reply.status == 500
    assert reply.headers.get("content-type") == "application/problem+json"


def test_an_http_status_enum_in_a_plain_result_is_sent_as_its_status() -> None:
    # An IntEnum is no int by type: HTTPStatus.CREATED was answered 500, where Lambda
    # alone writes 201 and the gateway sends it.
    @protect()
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": HTTPStatus.CREATED, "body": "created"}

    reply = call(lambda_handler, "http-v2", "/")
    assert (reply.status, reply.body) == (201, b"created")


def test_a_powertools_resolver_route_answering_with_an_http_status_keeps_it() -> None:
    # Powertools' resolvers put the HTTPStatus a route returns into the result as it is.
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    resolver = APIGatewayHttpResolver()

    @resolver.get("/orders")
    def accepted():  # type: ignore[no-untyped-def]
        return {"queued": True}, HTTPStatus.ACCEPTED

    @protect()
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return resolver.resolve(event, context)

    reply = call(lambda_handler, "http-v2", "/orders")
    assert reply.status == 202
    assert reply.json() == {"queued": True}


def test_an_is_base64_encoded_of_the_string_false_sends_the_body_as_written() -> None:
    # "false" is truthy: the body "aGk=" went out decoded, as "hi".
    @protect()
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": 200, "body": "aGk=", "isBase64Encoded": "false"}

    assert call(lambda_handler, "rest-v1", "/").body == b"aGk="


def test_multi_value_headers_win_over_a_header_spelt_in_another_case() -> None:
    # Both went out: "Content-Type: application/json, text/html", which a browser reads
    # as text/html.
    @protect()
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {
            "statusCode": 200,
            "headers": {"content-type": "text/html"},
            "multiValueHeaders": {"Content-Type": ["application/json"]},
            "body": "{}",
        }

    reply = call(lambda_handler, "http-v2", "/")
    assert reply.headers.get_all("content-type") == ["application/json"]


def test_a_null_header_value_in_a_plain_result_sends_no_header() -> None:
    # str(None) went out as the header's value: "X-Trace: None".
    @protect()
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {
            "statusCode": 200,
            "headers": {"X-Trace": None},
            "multiValueHeaders": {"X-Span": [None]},
            "body": "",
        }

    reply = call(lambda_handler, "rest-v1", "/")
    assert reply.status == 200
    assert reply.headers.get("x-trace") is None and reply.headers.get("x-span") is None


class Deny:
    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        raise Unauthorized("refused")


class Mark:
    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        request.state.setdefault("marks", []).append(self.name)
        return await call_next(request)


def test_a_refusal_under_a_stacked_protect_carries_the_request_id_of_its_header() -> None:
    # Each layer was an app of its own: X-Request-Id came from the outer one and the
    # problem's request_id from the inner one, so the two could not be matched up.
    @protect(Mark("outer"))
    @protect(Deny())
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": 200, "body": "ok"}

    reply = call(lambda_handler, "http-v2", "/")
    assert reply.status == 401
    assert reply.json()["request_id"] == reply.headers.get("x-request-id")


def test_a_request_through_stacked_protect_layers_writes_one_request_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @protect(Mark("outer"))
    @protect(Mark("inner"))
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": 200, "body": "ok"}

    capsys.readouterr()
    assert call(lambda_handler, "rest-v1", "/").status == 200
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 1


def test_stacked_protect_layers_run_their_middleware_outermost_first_on_one_request() -> None:
    @protect(Mark("outer"))
    @protect(Mark("inner"))
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": 200, "body": json.dumps(current_request().state["marks"])}

    assert call(lambda_handler, "http-v2", "/").json() == ["outer", "inner"]


@pytest.mark.parametrize(
    ("option", "outer", "inner"),
    [
        ("env", {"DALOY_ENV": "production"}, {"DALOY_ENV": "development"}),
        ("max_body", 1024, 2048),
        ("request_timeout", 1.0, 2.0),
        ("flush_margin_ms", 100, 200),
        ("trust_alb_forwarded_for", True, False),
    ],
)
def test_stacked_protect_layers_that_disagree_on_an_option_are_refused_at_decoration(
    option: str, outer: object, inner: object
) -> None:
    # Each layer applied its own: a body limit, a deadline or an environment other than
    # the one either layer declared decided the request.
    with pytest.raises(ConfigError, match=f"set {option} differently"):
        protect(**{option: outer})(protect(**{option: inner})(lambda event, context: None))


def test_an_environment_a_stacked_layer_disagrees_on_is_not_written_in_the_refusal() -> None:
    with pytest.raises(ConfigError) as refusal:
        protect(env={"KEY": "s3cr3t-a"})(protect(env={"KEY": "s3cr3t-b"})(lambda e, c: None))
    assert "s3cr3t" not in str(refusal.value)


def test_an_option_set_on_the_outer_stacked_layer_applies_to_the_handler_under_both() -> None:
    # The inner layer, an app of its own, read os.environ: production, so the outer
    # layer's development environment never showed the error.
    @protect(env={"DALOY_ENV": "development"})
    @protect(Mark("inner"))
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        raise RuntimeError("visible in development")

    reply = call(lambda_handler, "http-v2", "/")
    assert reply.status == 500
    assert "visible in development" in reply.body.decode()


def test_one_middleware_object_in_two_stacked_layers_is_refused_at_decoration() -> None:
    guard = RequireToken()
    with pytest.raises(ConfigError, match="RequireToken object runs twice"):
        protect(guard)(protect(guard)(lambda event, context: None))


def test_protect_over_another_decorator_over_protect_is_refused_at_decoration() -> None:
    # The layer under the other decorator would be a second app: a second request id,
    # a second log line, and the limits applied twice.
    def traced(fn):  # type: ignore[no-untyped-def]
        @functools.wraps(fn)
        def wrapper(event, context):  # type: ignore[no-untyped-def]
            return fn(event, context)

        return wrapper

    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": 200, "body": "ok"}

    with pytest.raises(ConfigError, match="put the protect\\(\\) layers next to each other"):
        protect(Mark("outer"))(traced(protect(Mark("inner"))(lambda_handler)))


@pytest.mark.parametrize("shape", ["rest-v1", "function-url", "alb"])
@pytest.mark.parametrize(
    "payload",
    ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg/onload=alert(1)>"],
)
def test_reflected_markup_in_an_untyped_plain_str_body_is_sent_as_text_plain(
    shape: str, payload: str
) -> None:
    # Reflected XSS: a plain handler greeting by name with no Content-Type went out
    # untyped, which a browser without nosniff sniffs as a page and runs; a route's
    # Response(f"hello {name}") is typed text/plain, and so is this.
    @protect()
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": 200, "body": f"hello {payload}"}

    reply = call(lambda_handler, shape, "/")
    assert reply.status == 200
    assert reply.headers.get("content-type") == "text/plain; charset=utf-8"
    assert reply.body == f"hello {payload}".encode()


def test_a_plain_str_body_keeps_the_type_its_handler_gave() -> None:
    @protect()
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": 200, "headers": {"Content-Type": "text/csv"}, "body": "a,b"}

    reply = call(lambda_handler, "rest-v1", "/")
    assert reply.headers.get("content-type") == "text/csv; charset=utf-8"
    assert reply.body == b"a,b"
