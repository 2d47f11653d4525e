"""The reference app's defaults through a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from tests.support.servers import Server, raw_request, status_of, uvicorn_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with uvicorn_server(
        env={"DALOY_REQUEST_TIMEOUT_MS": "300", "DALOY_MAX_BODY_BYTES": "4096"}
    ) as s:
        yield s


def get(
    server: Server,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.headers, data


def test_health(server: Server) -> None:
    status, headers, body = get(server, "/health")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    assert headers["x-request-id"] and "total;dur=" in headers["server-timing"]


def test_echo_is_json_never_html(server: Server) -> None:
    status, headers, body = get(server, "/echo?msg=%3Cscript%3Ealert(1)%3C/script%3E")
    assert status == 200 and headers["content-type"] == "application/json"
    assert b"<script>" not in body
    assert json.loads(body) == {"msg": "<script>alert(1)</script>"}


def test_boom_is_opaque_500(server: Server) -> None:
    status, headers, body = get(server, "/boom")
    assert status == 500 and headers["content-type"] == "application/problem+json"
    assert b"boom" not in body.replace(b"internal-error", b"")
    assert b"Traceback" not in body


def test_slow_past_deadline_is_504(server: Server) -> None:
    assert get(server, "/slow?ms=2000")[0] == 504


def test_slow_within_deadline_is_200(server: Server) -> None:
    assert get(server, "/slow?ms=10")[0] == 200


def test_slow_with_bad_ms_is_400(server: Server) -> None:
    assert get(server, "/slow?ms=abc")[0] == 400


def test_static_file(server: Server) -> None:
    status, _, body = get(server, "/static/hello.txt")
    assert status == 200 and body.startswith(b"Hello")


def test_big_is_large_json(server: Server) -> None:
    status, _, body = get(server, "/big")
    assert status == 200 and len(body) > 150_000
    json.loads(body)


def test_unknown_route_404(server: Server) -> None:
    assert get(server, "/nope")[0] == 404


def test_wrong_method_405_with_allow(server: Server) -> None:
    status, headers, _ = get(server, "/health", method="DELETE")
    assert status == 405 and headers["allow"] == "GET, HEAD"


def test_oversized_body_413(server: Server) -> None:
    assert get(server, "/health", method="POST", body=b"x" * 5000)[0] in (405, 413)


def test_oversized_declared_length_413_on_post_route(server: Server) -> None:
    raw = raw_request(
        server.port,
        b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\nConnection: close\r\n\r\n",
    )
    assert status_of(raw) in (404, 413)


def test_chunked_body_accepted_by_server(server: Server) -> None:
    raw = raw_request(
        server.port,
        b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    assert status_of(raw) == 200


@pytest.mark.parametrize(
    "target",
    [
        b"/static/../x",
        b"/static/%2e%2e/x",
        b"/static/%252e%252e/x",
        b"/static/..%5cx",
        b"/static/a%0d%0aSet-Cookie:x",
        b"/static/a%00",
        b"/static\\..\\x",
        b"/static/%c0%ae%c0%ae/x",
    ],
)
def test_traversal_and_crlf_are_4xx(server: Server, target: bytes) -> None:
    raw = raw_request(
        server.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    status = status_of(raw)
    assert 400 <= status < 500
    assert b"set-cookie: x" not in raw.lower()


def test_an_absolute_form_target_is_served_at_its_path(server: Server) -> None:
    # RFC 9112 3.2.2: a server must accept it; h11 passes the whole target on.
    raw = raw_request(
        server.port,
        b"GET http://x/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert status_of(raw) == 200


def test_an_absolute_form_target_with_a_fragment_after_its_host_is_not_served_at_it(
    server: Server,
) -> None:
    # h11 passes "http://x#/health" whole; its path is empty and "/health" a fragment
    # (RFC 3986 3.2), as gunicorn and a proxy in front read it.
    raw = raw_request(
        server.port,
        b"GET http://x#/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert status_of(raw) == 404


def test_raw_crlf_in_header_is_rejected(server: Server) -> None:
    raw = raw_request(
        server.port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\nConnection: close\r\n\r\n"
    )
    assert raw == b"" or 400 <= status_of(raw) < 500


def test_too_many_headers_431(server: Server) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    raw = raw_request(
        server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers + b"Connection: close\r\n\r\n"
    )
    assert status_of(raw) == 431


def test_request_id_round_trips(server: Server) -> None:
    _, headers, _ = get(server, "/health", headers={"X-Request-Id": "trace-me-123"})
    assert headers["x-request-id"] == "trace-me-123"


_HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.mark.parametrize(("path", "status"), [("/health", 200), ("/nope", 404), ("/boom", 500)])
def test_websocket_handshake_gets_the_apps_answer_with_its_headers(
    server: Server, path: str, status: int
) -> None:
    # uvicorn speaks WebSocket here (wsproto is installed, as uvicorn[standard] installs
    # websockets): a closed handshake got uvicorn's own bare 403.
    raw = raw_request(server.port, _HANDSHAKE.format(path=path).encode())
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert status_of(raw) == status
    for name in (
        "x-request-id",
        "server-timing",
        "strict-transport-security",
        "x-content-type-options",
    ):
        assert f"\r\n{name}:" in head
