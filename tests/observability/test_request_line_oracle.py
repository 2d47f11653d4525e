"""The request line, byte for byte, against the straightforward way of writing it.

The request log builds its line with shortcuts (cached literals, ids written without
escaping, timestamps sliced rather than divided). The oracle below writes the same
record member by member, escaping everything, as the log first did; randomized requests
with hostile values must give identical text, EMF members included.
"""

from __future__ import annotations

import enum
import io
import json
import random
import re
import sys
from urllib.parse import quote

import pytest

from daloy_edge import Headers, Request, Response
from daloy_edge._json import string_ascii
from daloy_edge.observability import LogConfig, RequestLog
from daloy_edge.observability._emf import _COUNTERS, _request_directive
from daloy_edge.observability._record import SEVERITIES, encode
from daloy_edge.observability._trace import parse_traceparent, parse_tracestate, parse_xray

MAX_FIELD = 1024
OTEL_METHODS = {
    "CONNECT",
    "DELETE",
    "GET",
    "HEAD",
    "OPTIONS",
    "PATCH",
    "POST",
    "PUT",
    "QUERY",
    "TRACE",
}


class Status(enum.IntEnum):
    OK = 200
    UNAVAILABLE = 503


class Context:
    def __init__(self, request_id: object) -> None:
        self.aws_request_id = request_id


class Draws:
    """Deterministic random bytes, so the oracle and the log draw the same ids."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def __call__(self, size: int) -> bytes:
        return self._rng.randbytes(size)


# -- the oracle: every member written out and escaped, as the log first did -------------


def scalar(value: object) -> str:
    return encode(value)  # type: ignore[arg-type]


def decimal(value: float, digits: int) -> str:
    if value - value != 0:
        raise ValueError("not finite")
    return f"{value:.{digits}f}"


def oracle_attributes(
    request: Request, response: Response, duration: float, log: RequestLog
) -> str:
    scrub = log.redactor.scrub
    method = request.method
    if method in OTEL_METHODS:
        text = f'{{"http.request.method":{string_ascii(method)},'
    else:
        original = string_ascii(scrub(method, limit=MAX_FIELD))
        text = f'{{"http.request.method":"_OTHER","http.request.method_original":{original},'
    text += (
        f'"url.path":{string_ascii(scrub(request.path, limit=MAX_FIELD))},'
        f'"url.scheme":{string_ascii(request.scheme)},'
        f'"http.response.status_code":{scalar(response.status)},'
        f'"http.server.request.duration":{decimal(duration, 6)},'
        f'"http.request.id":{string_ascii(request.request_id)}'
    )
    if request.route is not None:
        text += f',"http.route":{string_ascii(request.route)}'
    client = request.client_ip
    if client:
        text += f',"client.address":{string_ascii(client)}'
    if request.client and request.client != client:
        text += f',"network.peer.address":{string_ascii(request.client)}'
    agent = request.headers.get("user-agent")
    if agent:
        text += f',"user_agent.original":{string_ascii(scrub(agent, limit=MAX_FIELD))}'
    host = request.headers.get("host")
    if host:
        name, port = oracle_server(host)
        text += f',"server.address":{string_ascii(scrub(name, limit=MAX_FIELD))}'
        if port is not None:
            text += f',"server.port":{port:d}'
    if response.stream is None:
        text += f',"http.response.body.size":{len(response.body):d}'
    if response.status >= 500:
        text += f',"error.type":{string_ascii(str(response.status))}'
    invocation = getattr(request.state.get("aws.context"), "aws_request_id", None)
    if isinstance(invocation, str):
        text += f',"faas.invocation_id":{string_ascii(invocation[:MAX_FIELD])}'
    return text + "}"


def oracle_server(host: str) -> tuple[str, int | None]:
    """The Host header's name (an IPv6 literal without brackets) and port (these hosts
    carry no userinfo)."""
    found = re.fullmatch(r"(\[[^\]]*\]|[^:]+):([0-9]{0,5})", host, re.DOTALL)
    if found is not None and (found[2] == "" or int(found[2]) <= 65535):
        host = found[1]
        port = int(found[2]) if found[2] else None
    else:
        port = None
    if re.fullmatch(r"\[.*\]", host, re.DOTALL):
        host = host[1:-1]
    return host, port


def oracle_dimension(value: str) -> str:
    """A dimension value CloudWatch keeps: 1-1024 printable ASCII, not all spaces, or
    else the value percent-encoded and cut."""
    if re.fullmatch(r"[ -~]{1,1024}", value) and value.strip():
        return value
    escaped = quote(value, safe="".join(map(chr, range(0x20, 0x7F))), errors="backslashreplace")
    return (escaped if escaped.strip() else quote(value, safe="") or "-")[:1024]


def oracle_members(
    request: Request, response: Response, duration: float, timestamp_ms: int, service: str
) -> str:
    status = response.status
    limited = status == 429 or bool(request.state.get("rate_limited"))
    shed = bool(request.state.get("shed"))
    digit = min(max(status // 100, 2), 5)
    return (
        f'"Requests":1,"Latency":{decimal(duration * 1000, 3)},'
        f"{_COUNTERS[digit, limited, shed]},"
        f'"Service":{string_ascii(oracle_dimension(service))},'
        f'"Route":{string_ascii(oracle_dimension(request.route or "UNMATCHED"))},'
        f'"_aws":{{"Timestamp":{timestamp_ms:d},'
        f'"CloudWatchMetrics":{_request_directive("daloy-edge")}}}'
    )


def oracle_ids(request: Request, draw: Draws, start_ns: int) -> tuple[str, str, int]:
    """(trace id, span id, flags) as the log's trace extraction defines them (these
    requests carry no Lambda environment trace; a new trace id starts with the request's
    epoch second)."""

    def span() -> str:
        value = draw(8).hex()
        return value if value != "0" * 16 else "0000000000000001"

    parents = request.headers.get_all("traceparent")
    parsed = parse_traceparent(parents[0].strip()) if len(parents) == 1 else None
    if parsed is not None:
        state = request.headers.get_all("tracestate")
        if state:
            parse_tracestate(state)
        return parsed[0], span(), parsed[2]
    value = request.headers.get_joined("x-amzn-trace-id")
    xray = parse_xray(value) if value else None
    if xray is not None:
        return xray[0], span(), xray[2]
    raw = draw(20).hex()
    return f"{(start_ns // 10**9) % 2**32:08x}{raw[:24]}", raw[24:40], 1


def oracle_line(case: dict[str, object], log: RequestLog, ids: tuple[str, str, int]) -> str:
    request: Request = case["request"]  # type: ignore[assignment]
    response: Response = case["response"]  # type: ignore[assignment]
    duration: float = case["duration"]  # type: ignore[assignment]
    start_ns, end_ns = case["times"]  # type: ignore[misc]
    status = response.status
    severity = "ERROR" if status >= 500 else "WARN" if status >= 400 else "INFO"
    resource = log.resource(request.runtime)
    method = request.method if request.route or request.method in OTEL_METHODS else "HTTP"
    body = f"{method} {request.route or 'UNMATCHED'} {status}"
    head = (
        f'{{"Timestamp":"{start_ns:d}","ObservedTimestamp":"{end_ns:d}",'
        f'"SeverityText":"{severity}","SeverityNumber":{SEVERITIES[severity]},'
        f'"Body":{string_ascii(body)},'
        f'"EventName":{string_ascii("http.server.request")},'
        f'"Attributes":{oracle_attributes(request, response, duration, log)},'
        f'"TraceId":{string_ascii(ids[0])},"SpanId":{string_ascii(ids[1])},'
        f'"TraceFlags":"{ids[2]:02x}","Resource":{encode(dict(resource))}'
    )
    if not case["lambda"]:
        return head + "}"
    members = oracle_members(
        request, response, duration, start_ns // 1_000_000, resource["service.name"]
    )
    return f"{head},{members}}}"


# -- hostile and ordinary values --------------------------------------------------------

TEXTS = [
    "/hello",
    "/items/42",
    "/a b",
    "/caf\u00e9",
    "/\x1b[31mred",
    "/x\ny",
    "/\u2028sep",
    '/q"uote\\',
    "/password=hunter2",
    "/token:abc123",
    "/Bearer abcdefgh",
    "/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    "/AKIAIOSFODNN7EXAMPLE",
    "/https://user:pw@host/x",
    "/-----BEGIN PRIVATE KEY-----abc",
    "/" + "a" * 300,
    "/" + "b" * 2000,
    "/\U0001f600",
    "/",
    "/abc",
    "/100%25/%s%d%%",
]
AGENTS = [
    None,
    "",
    "bench/1.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
    'curl/8.0\r\n{"forged":1}',
    "agent api_key=ak_live_123456",
    "x" * 1500,
    "caf\u00e9\u0000",
    "%s%(x)s%d%%",
]
TRACE_HEADERS = [
    [],
    [("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793")],
    [("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")],
    [
        (
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
    ],
    [("x-amzn-trace-id", "root=1-5759e988-bd862e3fe1be46a994272793; sampled=0")],
    [("x-amzn-trace-id", "Root=1-5759E988-bd862e3fe1be46a994272793")],
    [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")],
    [
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("tracestate", "rojo=00f067aa0ba902b7"),
    ],
    [
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793"),
    ],
    [("traceparent", "garbage"), ("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793")],
    [
        ("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ],
    [
        ("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"),
        ("traceparent", "garbage"),
        ("x-amzn-trace-id", "Root=1-6759e988-bd862e3fe1be46a994272793"),
    ],
    [
        ("x-amzn-trace-id", "Root=1-5759e988-00000000"),
        ("x-amzn-trace-id", "Root=1-6759e988-bd862e3fe1be46a994272793"),
    ],
]


def make_case(rng: random.Random, index: int) -> dict[str, object]:
    headers = list(rng.choice(TRACE_HEADERS))
    agent = rng.choice(AGENTS)
    if agent is not None:
        headers.append(("User-Agent", agent))
    if rng.random() < 0.8:
        headers.append(
            (
                "host",
                rng.choice(
                    [
                        "api.example.com",
                        "api.example.com:8443",
                        "[2001:db8::1]:443",
                        "h:99999",
                        "h:",
                        "h\u00f6st",
                        "h\nx",
                        "x" * 1100,
                        "h%sx%%",
                    ]
                ),
            )
        )
    on_lambda = rng.random() < 0.5
    request = Request(
        rng.choice(["GET", "post", "PATCH", 'M"X', "M%s", "PROPFIND", "X" * 1100]),
        rng.choice(TEXTS),
        headers=Headers(headers),
        scheme=rng.choice(["https", "http"]),
        client=rng.choice([None, "", "10.0.0.1", "198.51.100.\u00e9"]),
        runtime="aws_lambda" if on_lambda else "asgi",
    )
    request.client_ip = rng.choice([request.client, "203.0.113.9", None])
    request.route = rng.choice(
        [None, "", "/hello", "/items/{id}", "/caf\u00e9/{x}", '/"q"', "/p%s/{id}"]
    )
    request.request_id = rng.choice(
        ["5428c5b4-cff8-4c12-a13a-d48846b48b6a", "id\x7f\u00e9", "id%d"]
    )
    context = rng.choice(
        [None, Context("inv-1"), Context("inv%s"), Context(7), Context("i" * 2000)]
    )
    if context is not None:
        request.state["aws.context"] = context
    for key in ("rate_limited", "shed"):
        if rng.random() < 0.2:
            request.state[key] = rng.choice([True, 1, "yes", 0])
    status = rng.choice([200, 201, 204, 302, 404, 429, 500, 503, Status.OK, Status.UNAVAILABLE])
    response = Response(rng.choice([b"", b"{}", b"x" * 5000]), status=status)
    if rng.random() < 0.3:
        response.headers["retry-after"] = "1"
    if rng.random() < 0.1:
        response.stream = object()  # type: ignore[assignment]
    duration = rng.choice([0.0, 0.0001, 0.0000805, 1.5, 123.4567895, 1e-9, 2.5e-7, 7])
    start_ns = rng.choice([1_796_553_634_154_941_001, 1_000_000, 999_999, 12, 10**20 + index])
    end_ns = start_ns + rng.randrange(10**9)
    return {
        "request": request,
        "response": response,
        "duration": duration,
        "times": (start_ns, end_ns),
        "lambda": on_lambda,
    }


@pytest.mark.parametrize("seed", range(8))
def test_request_line_is_the_oracle_line(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    # Half the seeds name a service with ``%`` in it: the line is built with ``%``.
    service = None if seed < 4 else "svc%s%%"
    config = LogConfig(env={}, random_bytes=Draws(seed), level="TRACE", service_name=service)
    log = RequestLog(config)
    draws = Draws(seed)
    for index in range(200):
        case = make_case(rng, index)
        request: Request = case["request"]  # type: ignore[assignment]
        times = iter(case["times"])  # type: ignore[call-overload]
        monkeypatch.setattr("time.time_ns", lambda times=times: next(times))
        ids = oracle_ids(request, draws, case["times"][0])  # type: ignore[index]
        log.on_request(request)
        log.on_response(request, case["response"], case["duration"], None)  # type: ignore[arg-type]
        written = stream.getvalue()
        stream.seek(0)
        stream.truncate()
        expected = oracle_line(case, log, ids)
        assert written == expected + "\n", (index, case)
        json.loads(written)


def test_a_status_the_encoder_refuses_writes_no_line(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    log = RequestLog(LogConfig(env={}))
    request = Request("GET", "/x")
    log.on_request(request)
    with pytest.raises(ValueError, match="not JSON compliant"):
        log.on_response(request, Response(b""), float("nan"), None)
    assert stream.getvalue() == ""
