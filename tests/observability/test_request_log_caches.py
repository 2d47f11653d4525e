"""What the request log remembers between requests never leaks from one to another."""

from __future__ import annotations

import enum
import json

import pytest

from daloy_edge import App, Headers, Request, Response
from daloy_edge._json import string_ascii
from daloy_edge.observability import LogConfig, MemorySink, Redactor, RequestLog, current_trace
from daloy_edge.observability._line import SHAPES_KEPT
from daloy_edge.observability._redact import _LITERALS_KEPT


def lines(sink: MemorySink) -> list[dict[str, object]]:
    return [json.loads(line) for line in sink.lines]


def served(log: RequestLog, request: Request, response: Response) -> None:
    log.on_request(request)
    log.on_response(request, response, 0.001, None)


# -- scrubbed literals ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["/hello", "/a", "/token=abc123", "Bearer abcdefgh", "caf\u00e9\n", "x" * 300, ""],
)
def test_scrub_json_is_the_literal_of_scrub(text: str) -> None:
    redactor = Redactor()
    for _ in range(2):  # the second time from what was remembered
        assert redactor.scrub_json(text) == string_ascii(redactor.scrub(text))


def test_a_remembered_literal_is_cut_once_max_string_shrinks() -> None:
    redactor = Redactor()
    text = "/" + "a" * 99
    assert redactor.scrub_json(text) == string_ascii(text)
    redactor.max_string = 10
    assert redactor.scrub_json(text) == string_ascii(redactor.scrub(text))
    assert "more]" in redactor.scrub_json(text)


def test_redactors_with_other_keys_do_not_share_literals() -> None:
    plain, strict = Redactor(), Redactor(extra_keys=("iban",))
    assert plain.scrub_json("/iban=DE89370400") == '"/iban=DE89370400"'
    assert strict.scrub_json("/iban=DE89370400") == '"/iban=[REDACTED]"'
    assert plain.scrub_json("/iban=DE89370400") == '"/iban=DE89370400"'


def test_remembered_literals_are_bounded() -> None:
    redactor = Redactor()
    for index in range(3 * _LITERALS_KEPT):
        redactor.scrub_json(f"/items/{index}")
    assert 0 < len(redactor._json) <= _LITERALS_KEPT


# -- request shapes ---------------------------------------------------------------------


def test_routes_methods_statuses_and_hosts_keep_their_own_shape() -> None:
    sink = MemorySink()
    log = RequestLog(LogConfig(stdout=False, sinks=[sink], env={}))
    cases = [
        ("GET", "/a", 200, "one.example"),
        ("GET", "/b", 200, "one.example"),
        ("POST", "/a", 200, "one.example"),
        ("GET", "/a", 503, "one.example"),
        ("GET", "/a", 200, "two.example"),
        ("GET", None, 404, None),
        ("GET", "/a", 200, "one.example"),
    ]
    for method, route, status, host in cases:
        request = Request(method, "/x", headers=Headers({"host": host} if host else None))
        request.route = route
        served(log, request, Response(b"", status=status))
    for (method, route, status, host), record in zip(cases, lines(sink), strict=True):
        attributes = record["Attributes"]
        assert isinstance(attributes, dict)
        assert record["Body"] == f"{method} {route or 'UNMATCHED'} {status}"
        assert attributes["http.request.method"] == method
        assert attributes.get("http.route") == route
        assert attributes["http.response.status_code"] == status
        assert attributes.get("server.address") == host
        assert ("error.type" in attributes) == (status >= 500)
        assert record["SeverityText"] == {200: "INFO", 404: "WARN", 503: "ERROR"}[status]


def test_host_with_userinfo_is_logged_without_it() -> None:
    sink = MemorySink()
    log = RequestLog(LogConfig(stdout=False, sinks=[sink], env={}))
    for _ in range(2):  # the second time from the remembered shape
        request = Request("GET", "/x", headers=Headers({"host": "admin:hunter2@example.com"}))
        served(log, request, Response(b""))
    for record in lines(sink):
        attributes = record["Attributes"]
        assert isinstance(attributes, dict)
        assert attributes["server.address"] == "[REDACTED]@example.com"


@pytest.mark.parametrize(
    ("host", "address", "port"),
    [
        ("api.example.com:8443", "api.example.com", 8443),
        ("[2001:db8::1]:8080", "2001:db8::1", 8080),
        ("admin:hunter2@example.com:8443", "[REDACTED]@example.com", 8443),
        ("api.example.com", "api.example.com", None),
        ("api.example.com:", "api.example.com", None),
        ("api.example.com:99999", "api.example.com:99999", None),
    ],
)
def test_host_port_is_logged_as_server_port_not_inside_server_address(
    host: str, address: str, port: int | None
) -> None:
    sink = MemorySink()
    log = RequestLog(LogConfig(stdout=False, sinks=[sink], env={}))
    served(log, Request("GET", "/x", headers=Headers({"host": host})), Response(b""))
    attributes = lines(sink)[0]["Attributes"]
    assert isinstance(attributes, dict)
    assert attributes["server.address"] == address
    assert attributes.get("server.port") == port


def test_host_is_scrubbed_of_inline_credentials() -> None:
    sink = MemorySink()
    log = RequestLog(LogConfig(stdout=False, sinks=[sink], env={}))
    request = Request("GET", "/x", headers=Headers({"host": "h.example;token=abc123"}))
    served(log, request, Response(b""))
    attributes = lines(sink)[0]["Attributes"]
    assert isinstance(attributes, dict)
    assert attributes["server.address"] == "h.example;token=[REDACTED]"


class Odd(enum.IntEnum):
    OK = 200

    def __format__(self, spec: str) -> str:
        return "odd"


def test_an_int_subclass_status_is_never_answered_from_the_cache() -> None:
    sink = MemorySink()
    log = RequestLog(LogConfig(stdout=False, sinks=[sink], env={}))
    for status in (200, Odd.OK, 200):
        request = Request("GET", "/x")
        request.route = "/x"
        served(log, request, Response(b"", status=status))
    assert [r["Body"] for r in lines(sink)] == ["GET /x 200", "GET /x odd", "GET /x 200"]
    assert all(type(key[2]) is int for key in log._shapes)


def test_request_shapes_are_bounded() -> None:
    log = RequestLog(LogConfig(stdout=False, sinks=[MemorySink()], env={}))
    for index in range(3 * SHAPES_KEPT):
        request = Request("GET", "/x", headers=Headers({"host": f"h{index}.example"}))
        served(log, request, Response(b""))
    assert 0 < len(log._shapes) <= SHAPES_KEPT


def test_long_made_up_hosts_are_logged_but_their_shapes_not_kept() -> None:
    # The flood: requests whose Host is 8 KiB of made-up name, each a new shape kept,
    # with the host and its scrubbed literal, until the cache emptied (2.5 MB held).
    sink = MemorySink()
    log = RequestLog(LogConfig(stdout=False, sinks=[sink], env={}))
    for index in range(8):
        host = f"h{index}." + "a" * 8000
        served(log, Request("GET", "/x", headers=Headers({"host": host})), Response(b""))
    assert sum(len(key[4] or "") for key in log._shapes) == 0
    assert len(sink.lines) == 8
    served(log, Request("GET", "/x", headers=Headers({"host": "a.example"})), Response(b""))
    assert [key[4] for key in log._shapes] == ["a.example"]


def test_long_made_up_methods_are_logged_but_their_shapes_not_kept() -> None:
    # The flood: requests whose method is 8 KiB of letters, refused 400 but logged, each a
    # new shape kept with its method until the cache emptied (uvicorn hands such a request
    # line to the app: 256 of them held 2 MB).
    sink = MemorySink()
    log = RequestLog(LogConfig(stdout=False, sinks=[sink], env={}))
    for index in range(8):
        method = f"M{index}" + "A" * 8000
        served(log, Request(method, "/x"), Response(b"", status=400))
    assert sum(len(key[0]) for key in log._shapes) == 0
    assert len(sink.lines) == 8
    served(log, Request("PROPFIND", "/x"), Response(b"", status=400))
    assert [key[0] for key in log._shapes] == ["PROPFIND"]


# -- runtime and trace ------------------------------------------------------------------


def test_the_cached_runtime_follows_update_resource() -> None:
    sink = MemorySink()
    log = RequestLog(LogConfig(stdout=False, sinks=[sink], env={}))
    served(log, Request("GET", "/x", runtime="asgi"), Response(b""))
    log.update_resource({"deployment.environment": "staging"})
    served(log, Request("GET", "/x", runtime="asgi"), Response(b""))
    first, second = (record["Resource"] for record in lines(sink))
    assert isinstance(first, dict) and isinstance(second, dict)
    assert "deployment.environment" not in first
    assert second["deployment.environment"] == "staging"


async def test_the_trace_built_on_demand_is_the_one_in_the_line() -> None:
    sink = MemorySink()
    app = App(request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env={})), env={})
    seen = []

    @app.get("/t")
    async def traced(request: Request) -> Response:
        seen.append((current_trace(), current_trace()))
        return Response.json({})

    header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await app.handle(Request("GET", "/t", headers=Headers({"traceparent": header})))
    (first, again), record = seen[0], lines(sink)[0]
    assert first is again
    assert (first.trace_id, first.span_id, first.flags) == (
        record["TraceId"],
        record["SpanId"],
        int(str(record["TraceFlags"]), 16),
    )
    assert first.parent_span_id == "00f067aa0ba902b7"


# -- secret-key judgements --------------------------------------------------------------


def test_a_logged_body_with_huge_keys_is_redacted_without_being_remembered() -> None:
    redactor = Redactor()
    body = {f"{index:04d}" + "k" * 100_000 + "_password": "hunter2" for index in range(3)}
    redacted = redactor.redact(body)
    assert isinstance(redacted, dict)
    assert set(redacted.values()) == {"[REDACTED]"}
    assert redactor._cache == {}


def test_logged_header_names_past_field_name_size_are_not_remembered() -> None:
    log = RequestLog(LogConfig(stdout=False, sinks=[MemorySink()], env={}, log_headers=True))
    for index in range(20):
        name = f"x-{index}-" + "a" * 8000
        served(log, Request("GET", "/x", headers=Headers({name: "1"})), Response(b""))
    served(log, Request("GET", "/x", headers=Headers({"x-trace": "1"})), Response(b""))
    assert max(len(key) for key in log.redactor._cache) < 8000
