"""CONTRACT.md, core routes and shared behaviour, on every transport."""

from __future__ import annotations

import hashlib
import re
import socket
import threading

import pytest

from tests.conformance.harness.checks import PROBLEM, assert_problem, resolves_dot_segments
from tests.conformance.harness.client import Transport
from tests.conformance.harness.servers import HTTPTransport
from tests.conformance.harness.targets import ROOT

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
STATIC_HELLO = (ROOT / "examples/static/hello.txt").read_bytes()


def test_health_answers_ok(http: Transport) -> None:
    reply = http.get("/health")
    assert reply.status == 200
    assert reply.media_type == "application/json"
    assert reply.json() == {"status": "ok"}


def test_echo_returns_the_decoded_message(http: Transport) -> None:
    reply = http.get("/echo?msg=hello%20world%20%E2%9C%93")
    assert reply.status == 200
    assert reply.json() == {"msg": "hello world ✓"}


def test_echo_answers_json_never_html_for_script_payload(http: Transport) -> None:
    reply = http.get("/echo?msg=%3Cscript%3Ealert(1)%3C/script%3E")
    assert reply.status == 200
    assert reply.media_type == "application/json"
    assert b"<script>" not in reply.body
    assert reply.json() == {"msg": "<script>alert(1)</script>"}


def test_unknown_route_is_404_problem(http: Transport) -> None:
    assert_problem(http.get("/no/such/route"), 404)


def test_wrong_method_is_405_with_allow(http: Transport) -> None:
    reply = http.post("/health", body=b"")
    assert_problem(reply, 405)
    allowed = {m.strip() for m in (reply.headers.get("allow") or "").split(",")}
    assert "GET" in allowed


def test_head_on_a_get_route_answers_without_body(http: Transport) -> None:
    reply = http.request("HEAD", "/health")
    assert reply.status == 200
    assert reply.body == b""


@pytest.mark.parametrize("path", ["/health", "/no/such/route", "/boom"])
def test_every_response_carries_request_id_and_server_timing(http: Transport, path: str) -> None:
    reply = http.get(path)
    assert UUID.match(reply.headers.get("x-request-id") or "")
    assert "total;dur=" in (reply.headers.get("server-timing") or "")


def test_safe_inbound_request_id_is_kept(http: Transport) -> None:
    reply = http.get("/health", headers={"X-Request-Id": "trace-abc_123.4:5"})
    assert reply.headers.get("x-request-id") == "trace-abc_123.4:5"


@pytest.mark.parametrize(
    "inbound",
    ["x" * 129, "<script>", "a b", "id;drop"],
    ids=["too-long", "markup", "space", "semicolon"],
)
def test_unsafe_inbound_request_id_is_replaced(http: Transport, inbound: str) -> None:
    reply = http.get("/health", headers={"X-Request-Id": inbound})
    assert UUID.match(reply.headers.get("x-request-id") or "")


def test_boom_is_500_problem_without_internals(http: Transport) -> None:
    reply = http.get("/boom")
    problem = assert_problem(reply, 500)
    text = reply.body.decode()
    for leak in ("boom:", "RuntimeError", "Traceback", ".py", "must never reach"):
        assert leak not in text
    assert set(problem) <= {"type", "title", "status", "detail", "request_id"}


def test_slow_within_the_deadline_answers_200(http: Transport) -> None:
    reply = http.get("/slow?ms=20")
    assert reply.status == 200
    assert reply.json() == {"slept_ms": 20}


def test_slow_past_the_deadline_is_504(http: Transport) -> None:
    assert_problem(http.get("/slow?ms=5000"), 504)


def test_a_body_sent_a_byte_at_a_time_is_cut_off_at_the_deadline(http: Transport) -> None:
    if not isinstance(http, HTTPTransport):
        pytest.skip("only a server reads the body off a socket; the others receive it whole")
    head = (
        b"POST /session/login HTTP/1.1\r\nHost: conformance.example\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    stop = threading.Event()
    with socket.create_connection(("127.0.0.1", http.port), timeout=10) as conn:
        conn.sendall(head)

        def drip() -> None:
            while not stop.wait(0.1):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

        dripping = threading.Thread(target=drip, daemon=True)
        dripping.start()
        try:
            answer = conn.recv(65536)  # times out while the server waits for the rest
        finally:
            stop.set()
            dripping.join()
    assert answer.startswith(b"HTTP/1.1 504 "), answer[:200]
    assert b"application/problem+json" in answer.lower()


def test_slow_rejects_a_non_integer_duration(http: Transport) -> None:
    assert_problem(http.get("/slow?ms=1e9"), 400)


def test_slow_rejects_a_duration_longer_than_an_int_may_be_parsed(http: Transport) -> None:
    # Python refuses to parse an int of more than 4300 digits (a ValueError, not a 400).
    assert_problem(http.get("/slow?ms=" + "1" * 4301), 400)


@pytest.mark.parametrize("query", ["ms=10&ms=5000", "ms=5000&ms=10", "ms=&ms=5000"])
def test_slow_refuses_a_repeated_duration(http: Transport, query: str) -> None:
    if http.name == "lambda-alb":
        pytest.skip("an ALB without multi-value headers forwards only the last value")
    assert_problem(http.get("/slow?" + query), 400)


def test_static_serves_a_file_from_the_static_folder(http: Transport) -> None:
    reply = http.get("/static/hello.txt")
    assert reply.status == 200
    assert reply.headers.get("content-type") == "text/plain; charset=utf-8"
    assert reply.body == STATIC_HELLO


def test_static_file_is_revalidated_by_its_content_tag_on_every_runtime(http: Transport) -> None:
    tag = '"' + hashlib.blake2b(STATIC_HELLO, digest_size=16).hexdigest() + '"'
    assert http.get("/static/hello.txt").headers.get("etag") == tag
    reply = http.get("/static/hello.txt", headers={"If-None-Match": tag})
    assert reply.status == 304
    assert reply.body == b""
    assert reply.headers.get("etag") == tag


def test_static_unknown_file_is_404(http: Transport) -> None:
    assert_problem(http.get("/static/nope.txt"), 404)


def test_static_dot_file_is_404(http: Transport) -> None:
    assert_problem(http.get("/static/.env"), 404)


TRAVERSALS = {
    "plain-dot-dot": "/static/../secure_app.py",
    "encoded-dot-dot": "/static/%2e%2e/secure_app.py",
    "double-encoded-dot-dot": "/static/%252e%252e/secure_app.py",
    "encoded-slash": "/static/..%2fsecure_app.py",
    "encoded-backslash": "/static/..%5csecure_app.py",
    # "../" and "..\\" to a layer folding compatibility characters (NFKC).
    "fullwidth-slash": "/static/..%ef%bc%8fsecure_app.py",
    "fullwidth-backslash": "/static/..%ef%bc%bcsecure_app.py",
    "nul-byte": "/static/hello.txt%00.py",
    "crlf-injection": "/static/hello.txt%0d%0aSet-Cookie:%20evil=1",
}


DOT_SEGMENTS = ("plain-dot-dot", "encoded-dot-dot")
"""Traversals a URL parser resolves: ``/static/../secure_app.py`` is ``/secure_app.py``."""


@pytest.mark.parametrize("case", list(TRAVERSALS))
def test_static_refuses_path_traversal(http: Transport, case: str) -> None:
    reply = http.get(TRAVERSALS[case])
    if case in DOT_SEGMENTS and resolves_dot_segments(http):
        # The platform resolved the segments first: an unknown route, never the file.
        assert_problem(reply, 404)
    else:
        assert_problem(reply, 400)
    assert b"create_app" not in reply.body
    assert "evil" not in " ".join(reply.headers.get_all("set-cookie"))


def test_static_double_encoded_file_name_is_decoded_only_once(http: Transport) -> None:
    # "%252e" is the three characters "%2e", never a dot: no file has that name.
    if http.name == "mangum-http-v2":
        pytest.skip("Mangum unquotes the path an HTTP API decoded already: a second decoding")
    assert_problem(http.get("/static/hello%252etxt"), 404)


def test_static_overlong_utf8_dots_never_reach_a_file(http: Transport) -> None:
    # Invalid UTF-8: refused (400) where the raw path arrives, 404 where a gateway
    # already decoded it with replacement characters; never a file outside the folder.
    reply = http.get("/static/%c0%ae%c0%ae/secure_app.py")
    assert reply.status in (400, 404)
    assert reply.media_type == PROBLEM
    assert b"create_app" not in reply.body


def test_big_is_about_200_kb_of_json(http: Transport) -> None:
    reply = http.get("/big")
    assert reply.status == 200
    assert reply.media_type == "application/json"
    assert 150_000 < len(reply.body) < 400_000
    data = reply.json()
    assert isinstance(data, dict) and len(data["items"]) > 1000


def test_over_long_path_and_query_are_414_problems(http: Transport) -> None:
    # The defaults page: paths past 8 KiB and query strings past 16 KiB are a 414, on
    # every runtime (no server in front answers them its own way first).
    assert http.get("/" + "a" * 8000).status == 404
    assert_problem(http.get("/" + "a" * 8200), 414)
    assert_problem(http.get("/health?q=" + "a" * 16400), 414)


def test_oversized_request_headers_are_431(http: Transport) -> None:
    headers = [(f"x-filler-{i}", "f" * 7000) for i in range(5)]
    assert_problem(http.get("/health", headers=headers), 431)


def test_a_header_split_over_lines_too_large_together_is_431(http: Transport) -> None:
    if http.name == "lambda-alb":
        pytest.skip("an ALB without multi-value headers forwards only the last line")
    headers = [("X-Filler", "a" * 5000), ("X-Filler", "b" * 5000)]
    assert_problem(http.get("/health", headers=headers), 431)


def test_a_header_sent_on_many_lines_counts_as_one_field(http: Transport) -> None:
    if http.name == "functions-framework":
        pytest.skip("gunicorn refuses more than 100 header lines itself")
    headers = [("Cookie", f"c{i}=1") for i in range(60)]
    headers += [(f"X-Filler-{i}", "f") for i in range(40)]
    assert http.get("/health", headers=headers).status == 200


def test_oversized_body_is_413(http: Transport) -> None:
    reply = http.post(
        "/session/login",
        headers={"Content-Type": "application/json"},
        body=b'{"user": "' + b"a" * 70_000 + b'"}',
    )
    assert_problem(reply, 413, "payload-too-large")
