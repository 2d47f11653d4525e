"""Event shape detection and translation, on the recorded events."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from daloy_edge_aws_lambda import (
    ALB,
    ALB_MULTI_VALUE,
    FUNCTION_URL,
    HTTP_API_V2,
    REST_API_V1,
    UnsupportedEvent,
    detect,
    handler,
)
from daloy_edge_aws_lambda._encoding import raw_path
from daloy_edge_aws_lambda._events import Translation

from daloy_edge import App, KeyRing, Request, Response
from daloy_edge.middleware.cors import CORS, CORSConfig
from daloy_edge.middleware.sessions import SessionConfig, Sessions, get_session
from daloy_edge.observability import LogConfig, MemorySink, RequestLog
from tests.conformance.harness.gateways import recorded

SHAPES = {
    "rest-v1": REST_API_V1,
    "http-v2": HTTP_API_V2,
    "function-url": FUNCTION_URL,
    "alb": ALB,
    "alb-multi": ALB_MULTI_VALUE,
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_detects_each_recorded_event_shape(name: str) -> None:
    assert detect(recorded(name)) is SHAPES[name]


@pytest.mark.parametrize(
    "event",
    [{}, {"Records": [{"eventSource": "aws:sqs"}]}, {"version": "2.0", "rawPath": "/"}],
    ids=["empty", "sqs", "v2-without-http-context"],
)
def test_non_http_event_is_refused(event: dict[str, object]) -> None:
    with pytest.raises(UnsupportedEvent):
        detect(event)


@pytest.mark.parametrize(
    "event", ["hello", [1, 2], None, 3], ids=["string", "array", "null", "number"]
)
def test_direct_invocation_with_a_json_value_is_refused(event: object) -> None:
    with pytest.raises(UnsupportedEvent):
        detect(event)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "event",
    [
        {"requestContext": 5},
        {"version": "2.0", "requestContext": "http"},
        {"version": "2.0", "requestContext": {"http": {}, "domainName": 5}},
    ],
    ids=["number-context", "string-context", "number-domain"],
)
def test_event_with_a_request_context_of_the_wrong_type_is_refused(
    event: dict[str, object],
) -> None:
    with pytest.raises(UnsupportedEvent, match="requestContext of the wrong type"):
        detect(event)


def test_bedrock_agent_action_call_is_refused() -> None:
    event = {"messageVersion": "1.0", "agent": {}, "apiPath": "/health", "httpMethod": "GET"}
    with pytest.raises(UnsupportedEvent):
        detect(event)


def test_rest_event_built_without_a_request_context_is_still_served() -> None:
    # Hand-built proxy events (tests, local invokes) often leave the context out; only a
    # Bedrock agent's call, which names an agent, is refused for lacking one.
    event = {"httpMethod": "GET", "path": "/health", "headers": {}, "body": None}
    assert detect(event) is REST_API_V1


AUTHORIZER_REQUESTS = {
    "rest-v1": {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:a/prod/GET/"},
    "http-v2": {"type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:1:a/$default/GET/"},
}


@pytest.mark.parametrize("name", list(AUTHORIZER_REQUESTS))
def test_lambda_authorizer_request_is_refused_not_answered(name: str) -> None:
    # The authorizer event carries the request's own fields: answered as the request, a
    # POST would run its route.
    event = {**recorded(name), **AUTHORIZER_REQUESTS[name]}
    with pytest.raises(UnsupportedEvent):
        handler(App())(event, None)


MALFORMED = {
    "rest-v1": ("multiValueHeaders", ["host: example.test"]),
    "http-v2": ("rawPath", ["health"]),
    "function-url": ("headers", "host: example.test"),
    "alb": ("queryStringParameters", ["msg=hi"]),
    "alb-multi": ("multiValueHeaders", {"host": 1}),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_http_event_with_a_field_of_the_wrong_type_is_refused_as_an_event(name: str) -> None:
    field, value = MALFORMED[name]
    event = {**recorded(name), field: value}
    with pytest.raises(UnsupportedEvent, match=f"malformed {SHAPES[name].name} event"):
        handler(App())(event, None)


@pytest.mark.parametrize("name", list(MALFORMED))
@pytest.mark.parametrize("method", [123, ["GET"], {"m": "GET"}])
def test_http_event_whose_method_is_not_text_is_refused_as_an_event(
    name: str, method: object
) -> None:
    # Carried on, a method of another type failed the request's checks and its log line:
    # a 500 and no line.
    event = copy.deepcopy(recorded(name))
    if "http" in event.get("requestContext", {}):
        event["requestContext"]["http"]["method"] = method
    else:
        event["httpMethod"] = method
    with pytest.raises(UnsupportedEvent, match=f"malformed {SHAPES[name].name} event"):
        handler(App())(event, None)


@pytest.mark.parametrize("name", ["rest-v1", "http-v2", "function-url"])
@pytest.mark.parametrize("source", [123, ["203.0.113.9"], {"ip": "203.0.113.9"}])
def test_http_event_whose_source_ip_is_not_text_is_refused_as_an_event(
    name: str, source: object
) -> None:
    # Carried on, it failed client-address resolution: a 500, or a bare TypeError out of
    # the handler for a list or an object.
    event = copy.deepcopy(recorded(name))
    context = event["requestContext"]
    (context["http"] if "http" in context else context["identity"])["sourceIp"] = source
    with pytest.raises(UnsupportedEvent, match=f"malformed {SHAPES[name].name} event"):
        handler(App())(event, None)


def translate(name: str) -> Request:
    event = recorded(name)
    return SHAPES[name].to_request(event, Translation())


@pytest.mark.parametrize("name", list(SHAPES))
def test_recorded_base64_body_is_decoded(name: str) -> None:
    body = asyncio.run(translate(name).body())
    assert body == b'{"test":"body"}'


def test_rest_v1_multi_value_query_keeps_every_value() -> None:
    event = recorded("rest-v1")
    event["multiValueQueryStringParameters"] = {"k": ["a b", "c&d"]}
    request = REST_API_V1.to_request(event, Translation())
    assert request.query.get_all("k") == ["a b", "c&d"]


def test_rest_v1_multi_value_headers_keep_every_value() -> None:
    request = translate("rest-v1")
    assert request.headers.get_all("x-forwarded-for") == ["127.0.0.1, 127.0.0.2"]
    assert request.headers.get("host") == "0123456789.execute-api.us-east-1.amazonaws.com"


def test_http_v2_cookies_array_becomes_one_cookie_header() -> None:
    request = translate("function-url")
    assert request.cookies == {"cookie1": "value1", "cookie2": "value2"}


def test_function_url_cookie_header_beside_its_cookies_array_is_read_once() -> None:
    # A Function URL keeps the client's Cookie header in ``headers`` and also splits it
    # into ``cookies`` (an HTTP API moves it): read from both, every cookie came twice,
    # and Sessions refused each session cookie as repeated, signing every user out.
    event = recorded("function-url")
    event["headers"]["cookie"] = "cookie1=value1; cookie2=value2"
    request = FUNCTION_URL.to_request(event, Translation())
    assert request.headers.get_all("cookie") == ["cookie1=value1; cookie2=value2"]
    assert request.cookies == {"cookie1": "value1", "cookie2": "value2"}
    assert not request.cookie_repeated("cookie1")


def test_function_url_session_cookie_sent_in_both_places_keeps_the_session() -> None:
    app = App(middleware=[Sessions(SessionConfig(keys=KeyRing(["s" * 32]), allow_no_csrf=True))])

    @app.get("/login")
    async def login(request: Request) -> None:
        get_session(request)["user"] = "ada"

    @app.get("/me")
    async def me(request: Request) -> dict[str, object]:
        return {"user": get_session(request).get("user")}

    serve = handler(app)
    signed_in = serve(with_path("function-url", "/login"), None)
    cookie = signed_in["cookies"][0].partition(";")[0]
    event = with_path("function-url", "/me")
    event["headers"]["cookie"] = cookie
    event["cookies"] = [cookie]
    assert json.loads(serve(event, None)["body"]) == {"user": "ada"}


def test_http_v2_uses_raw_query_string() -> None:
    request = translate("http-v2")
    assert request.query.get_all("parameter1") == ["value1", "value2"]


def test_alb_event_with_null_multi_value_headers_is_answered_single_value() -> None:
    # Read as the single-value form, it was answered multi-value: the load balancer
    # (or a test harness built on the single-value form) found no "headers" in the
    # result, and the answer lost its Content-Type, cookies and security headers.
    event = recorded("alb")
    event["multiValueHeaders"] = None
    event["multiValueQueryStringParameters"] = None
    assert detect(event) is ALB
    result = handler(App())(event, None)
    assert "headers" in result and "multiValueHeaders" not in result


def test_alb_multi_value_query_is_passed_as_sent() -> None:
    event = recorded("alb-multi")
    event["multiValueQueryStringParameters"] = {"q": ["a%20b", "c%26d"]}
    request = ALB_MULTI_VALUE.to_request(event, Translation())
    assert request.query.get_all("q") == ["a b", "c&d"]


def test_client_address_comes_from_request_context_not_forwarded_headers() -> None:
    request = translate("rest-v1")
    assert request.client == "127.0.0.1"
    event = recorded("function-url")
    event["headers"]["x-forwarded-for"] = "6.6.6.6"
    assert FUNCTION_URL.to_request(event, Translation()).client == "203.0.113.10"


def test_alb_client_is_unknown_without_opt_in() -> None:
    assert translate("alb").client is None


def test_alb_client_is_last_forwarded_entry_when_trusted() -> None:
    event = recorded("alb")
    event["headers"]["x-forwarded-for"] = "6.6.6.6, 72.12.164.125"
    request = ALB.to_request(event, Translation(trust_alb_forwarded_for=True))
    assert request.client == "72.12.164.125"


def test_alb_scheme_follows_the_load_balancer_listener() -> None:
    assert translate("alb").scheme == "http"
    assert translate("alb-multi").scheme == "https"


def test_alb_client_sent_forwarded_proto_ahead_of_the_listeners_does_not_make_it_http() -> None:
    # A client's own line would make its https request read as http, so an
    # "Origin: http://..." would pass for the app's own origin.
    event = recorded("alb-multi")
    event["multiValueHeaders"]["x-forwarded-proto"] = ["http", "https"]
    assert ALB.to_request(event, Translation()).scheme == "https"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/static/a%20b.txt", "/static/a%2520b.txt"),
        ("/static/a b.txt", "/static/a%20b.txt"),
        ("/users/me?admin=true", "/users/me%3Fadmin=true"),
        ("/orders#frag", "/orders%23frag"),
        ("/100%", "/100%25"),
        ("/caf\u00e9", "/caf%C3%A9"),
        ("", "/"),
    ],
)
def test_raw_path_escapes_only_what_cannot_be_encoded(given: str, expected: str) -> None:
    assert raw_path(given, decoded=True) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/health%zz", "/health%zz"),
        ("/static/hello.txt%", "/static/hello.txt%"),
        ("/static/a b.txt", "/static/a%20b.txt"),
        ("/caf\u00e9%2F", "/caf%C3%A9%2F"),
    ],
)
def test_raw_path_leaves_a_bare_percent_in_an_encoded_path(given: str, expected: str) -> None:
    assert raw_path(given, decoded=False) == expected


def with_path(name: str, path: str) -> dict[str, Any]:
    event = recorded(name)
    event["rawPath" if "rawPath" in event else "path"] = path
    if "rawPath" in event:
        event["requestContext"]["http"]["method"] = "GET"
    else:
        event["httpMethod"] = "GET"
    return event


@pytest.mark.parametrize("name", ["rest-v1", "function-url", "alb", "alb-multi"])
@pytest.mark.parametrize("path", ["/health%zz", "/static/hello.txt%"])
def test_malformed_escape_in_an_encoded_path_is_400(name: str, path: str) -> None:
    app = App()
    app.add_route("/static/{path:path}", lambda request: "served")
    assert handler(app)(with_path(name, path), None)["statusCode"] == 400


@pytest.mark.parametrize("version", ["2.0", "1.0"])
def test_percent_sign_in_an_http_api_path_is_a_literal(version: str) -> None:
    app = App()
    app.add_route("/static/{path:path}", lambda request: request.path_params["path"])
    event = with_path("http-v2" if version == "2.0" else "rest-v1", "/static/100%")
    event["version"] = version
    result = handler(app)(event, None)
    assert result["statusCode"] == 200 and result["body"] == "100%"


@pytest.mark.parametrize("version", ["2.0", "1.0"])
def test_double_encoded_http_api_path_is_decoded_only_once(version: str) -> None:
    # A "%2e" in an HTTP API's path is text the gateway delivered, its decoding done (a
    # client's "%25252e" arrives so): read as an escape, it became a "." and served
    # hello.txt.
    app = App()
    app.add_route("/static/{path:path}", lambda request: request.path_params["path"])
    event = with_path("http-v2" if version == "2.0" else "rest-v1", "/static/hello%2etxt")
    event["version"] = version
    result = handler(app)(event, None)
    assert result["statusCode"] == 200 and result["body"] == "hello%2etxt"


def test_decoded_traversal_in_http_api_path_is_refused() -> None:
    app = App()
    app.add_route("/static/{path:path}", lambda request: "served")
    event = recorded("http-v2")
    event["rawPath"] = "/static/../secret"
    event["requestContext"]["http"]["method"] = "GET"
    result = handler(app)(event, None)
    assert result["statusCode"] == 400


def echo_app() -> App:
    app = App()

    @app.route("/echo", ["POST"])
    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/octet-stream")

    return app


def test_invalid_base64_body_is_400_when_read() -> None:
    event = recorded("rest-v1")
    event.update(path="/echo", httpMethod="POST", body="not*base64", isBase64Encoded=True)
    event["multiValueHeaders"].pop("Content-Length", None)
    result = handler(echo_app())(event, None)
    assert result["statusCode"] == 400


def result_headers(result: dict[str, object]) -> dict[str, object]:
    return result.get("headers") or result["multiValueHeaders"]  # type: ignore[return-value]


@pytest.mark.parametrize("name", list(SHAPES))
def test_lone_surrogate_in_path_is_a_400_problem(name: str) -> None:
    event = recorded(name)
    event["rawPath" if "rawPath" in event else "path"] = "/\udc80"
    result = handler(App())(event, None)
    assert result["statusCode"] == 400
    headers = result_headers(result)
    assert "x-request-id" in headers
    assert "application/problem+json" in str(headers["content-type"])


def test_lone_surrogate_in_text_body_is_a_400_problem_when_parsed() -> None:
    app = App()

    @app.route("/echo", ["POST"])
    async def echo(request: Request) -> Response:
        return Response.json(await request.json())

    event = recorded("http-v2")
    event["rawPath"] = "/echo"
    event["requestContext"]["http"]["method"] = "POST"
    event["headers"]["content-type"] = "application/json"
    event.update(body='{"user":"\udc80"}', isBase64Encoded=False)
    result = handler(app)(event, None)
    assert result["statusCode"] == 400
    assert "x-request-id" in result_headers(result)


def test_lone_surrogate_in_rest_v1_query_is_read_as_invalid_utf8() -> None:
    event = recorded("rest-v1")
    event["multiValueQueryStringParameters"] = {"msg": ["\udc80"]}
    request = REST_API_V1.to_request(event, Translation())
    assert request.query.get("msg") == "\ufffd" * 3


@pytest.mark.parametrize("name", ["http-v2", "function-url", "alb", "alb-multi"])
def test_lone_surrogate_in_raw_query_is_read_as_invalid_utf8_as_from_rest_v1(name: str) -> None:
    # The app read the surrogate itself ({"msg": "\udc80"} echoed back, no UTF-8 for
    # it), where a REST API's event and the escaped bytes from any server read U+FFFD.
    event = recorded(name)
    if "rawQueryString" in event:
        event["rawQueryString"] = "msg=\udc80&name=caf\u00e9"
    else:
        key = "multiValueQueryStringParameters" if name == "alb-multi" else "queryStringParameters"
        event[key] = {"msg": ["\udc80"] if name == "alb-multi" else "\udc80"}
        event[key]["name"] = ["caf\u00e9"] if name == "alb-multi" else "caf\u00e9"
    request = SHAPES[name].to_request(event, Translation())
    assert request.query.get("msg") == "\ufffd" * 3
    assert request.query.get("name") == "caf\u00e9"
    assert request.query_string.isascii()


def test_multi_value_header_keeps_an_empty_value_and_a_bare_string() -> None:
    event = recorded("alb-multi")
    event["multiValueHeaders"] = {"x-empty": [""], "x-bare": "whole value", "x-none": None}
    request = ALB_MULTI_VALUE.to_request(event, Translation())
    assert request.headers.get_all("x-empty") == [""]
    assert request.headers.get_all("x-bare") == ["whole value"]
    assert "x-none" not in request.headers


def test_rest_v1_query_of_spaces_is_not_tripled_past_the_query_limit() -> None:
    # "?msg=" and 6,000 "+" is 6,005 characters; re-encoded as "%20" it passed 16,384.
    app = App()

    @app.get("/echo")
    async def echo(request: Request) -> Response:
        return Response.json({"length": len(request.query.get("msg") or "")})

    event = recorded("rest-v1")
    event.update(path="/echo", httpMethod="GET")
    event["multiValueQueryStringParameters"] = {"msg": [" " * 6000], "path": ["a/b:c"]}
    result = handler(app)(event, None)
    assert result["statusCode"] == 200
    assert result["body"] == '{"length":6000}'


def test_rest_v1_query_keeps_what_separates_or_escapes_escaped() -> None:
    event = recorded("rest-v1")
    event["multiValueQueryStringParameters"] = {"k": ["a&b=c+d%e f/g"]}
    request = REST_API_V1.to_request(event, Translation())
    assert request.query.get_all("k") == ["a&b=c+d%e f/g"]


@pytest.mark.parametrize("name", list(SHAPES))
@pytest.mark.parametrize("flag", ["false", "true", 1])
def test_http_event_whose_base64_flag_is_not_a_boolean_is_refused_as_an_event(
    name: str, flag: object
) -> None:
    # Read as true, the string "false" decoded a text body as base64: "abcd" reached the
    # app as three other bytes.
    event = with_path(name, "/echo")
    event.update(body="abcd", isBase64Encoded=flag)
    with pytest.raises(UnsupportedEvent, match=f"malformed {SHAPES[name].name} event"):
        handler(echo_app())(event, None)


@pytest.mark.parametrize("name", list(SHAPES))
def test_a_header_name_with_the_kelvin_sign_is_not_read_as_its_ascii_lookalike(
    name: str,
) -> None:
    # str.lower() maps the Kelvin sign (U+212A) to "k": "Coo\u212aie" read as "cookie".
    event = with_path(name, "/me")
    if "multiValueHeaders" in event:
        event["multiValueHeaders"]["Coo\u212aie"] = ["user=admin"]
    else:
        event["headers"]["coo\u212aie"] = "user=admin"
    app = App()
    app.add_route("/me", lambda request: request.cookies.get("user", "nobody"))
    assert handler(app)(event, None)["statusCode"] == 400


def with_header(name: str, field: str, value: object) -> dict[str, Any]:
    """The event of shape ``name`` for GET /me with ``field: value`` where that shape
    carries its headers (REST v1 in its single-value ``headers`` too)."""
    event = with_path(name, "/me")
    if name == "rest-v1":
        event["headers"][field] = value
        event["multiValueHeaders"][field] = [value]
    elif "multiValueHeaders" in event:
        event["multiValueHeaders"][field] = [value]
    else:
        event["headers"][field] = value
    return event


NOT_TEXT = [7, True, ["a"], {"a": "b"}]
SINGLE_VALUE = ["http-v2", "function-url", "alb", "rest-v1-single-value"]


def with_header_value(name: str, field: str, value: object) -> dict[str, Any]:
    """:func:`with_header`, and for ``rest-v1-single-value`` without multiValueHeaders."""
    event = with_header(name.removesuffix("-single-value"), field, value)
    if name == "rest-v1-single-value":
        del event["multiValueHeaders"]
    return event


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name in [*SHAPES, "rest-v1-single-value"] for value in NOT_TEXT]
    + [(name, None) for name in SINGLE_VALUE],
)
def test_http_event_whose_header_value_is_not_text_is_a_400_not_a_500(
    name: str, value: object
) -> None:
    # A number, a list or a null for a header's value (a hand-built event) failed the
    # request's header checks with a 500 problem, counted as an internal error.
    result = handler(App())(with_header_value(name, "x-count", value), None)
    assert result["statusCode"] == 400
    assert result["body"].startswith('{"type":"urn:daloy-edge:problem:bad-request"')


@pytest.mark.parametrize("field", ["x-request-id", "traceparent", "user-agent", "host"])
@pytest.mark.parametrize("name", ["http-v2", "rest-v1"])
def test_header_value_not_text_that_the_app_reads_first_is_still_a_logged_400(
    name: str, field: str
) -> None:
    # The request id and the request log read these fields before the header checks: an
    # x-request-id of 7 left the invocation with an uncaught TypeError (no answer at
    # all), a traceparent, User-Agent or Host of 7 lost the request's log line.
    sink = MemorySink()
    app = App(
        middleware=[CORS(CORSConfig(allow_origins=("https://app.example",)))],
        request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env={})),
        env={},
    )
    event = with_header(name, field, 7)
    if name == "rest-v1":
        event["multiValueHeaders"]["origin"] = ["https://app.example"]
    else:
        event["headers"]["origin"] = "https://app.example"
    result = handler(app)(event, None)
    assert result["statusCode"] == 400
    headers = result.get("multiValueHeaders") or result["headers"]
    assert "access-control-allow-origin" in {key.lower() for key in headers}
    records = [r for r in sink.records if r.get("EventName") == "http.server.request"]
    assert len(records) == 1


@pytest.mark.parametrize("name", ["rest-v1", "alb-multi"])
def test_a_null_entry_of_a_multi_value_header_is_no_field(name: str) -> None:
    app = App()
    app.add_route("/me", lambda request: request.headers.get("x-user", "nobody"))
    result = handler(app)(with_header(name, "x-user", None), None)
    assert (result["statusCode"], result["body"]) == (200, "nobody")


@pytest.mark.parametrize("name", ["http-v2", "function-url"])
@pytest.mark.parametrize(
    ("field", "value"),
    [("rawQueryString", 1), ("rawQueryString", ["a=1"]), ("cookies", "user=admin")],
)
def test_payload_v2_query_or_cookies_of_the_wrong_type_is_refused_as_an_event(
    name: str, field: str, value: object
) -> None:
    # A number for the query failed the request's query checks (a 500 problem); a
    # string for the cookies was joined a character at a time ("u; s; e; r; =; ...").
    event = {**with_path(name, "/me"), field: value}
    with pytest.raises(UnsupportedEvent, match=f"malformed {SHAPES[name].name} event"):
        handler(App())(event, None)


@pytest.mark.parametrize("name", list(SHAPES))
@pytest.mark.parametrize("body", [{"user": "admin"}, ["a"], 5, True])
def test_http_event_whose_body_is_not_text_is_refused_as_an_event(name: str, body: object) -> None:
    # An object body (a hand-built event's JSON before json.dumps) was read as no body:
    # the route ran on an empty one.
    event = with_path(name, "/echo")
    event.update(body=body, isBase64Encoded=False)
    with pytest.raises(UnsupportedEvent, match=f"malformed {SHAPES[name].name} event"):
        handler(echo_app())(event, None)
