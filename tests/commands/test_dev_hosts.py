"""``daloy-edge dev`` answers only host names nobody else's DNS can point at it (DNS rebinding)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daloy_edge.cli import main
from daloy_edge.commands._devhosts import allow_host_argument, host_name
from tests.commands.test_dev_command import free_port
from tests.support.servers import ROOT, wait_until_serving

REBOUND = "attacker.example:8000"
TARGET = "tests.commands.test_dev_hosts:secret_page"


async def secret_page(scope: Any, receive: Any, send: Any) -> None:
    """What a dev app shows loopback clients: a debug page, an unauthenticated admin view."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"secret"})


@pytest.fixture
def served(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The ASGI app ``dev`` hands to uvicorn, captured instead of served."""
    import uvicorn

    captured: list[Any] = []

    def run(server: uvicorn.Server, sockets: object = None) -> None:
        captured.append(server.config.app)
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    yield captured


def dev_app(served: list[Any], *args: str) -> Any:
    assert main(["dev", "--port", str(free_port()), *args, TARGET]) == 0
    return served[0]


async def call(app: Any, host: str | None, path: str = "/", kind: str = "http") -> list[Any]:
    headers = [] if host is None else [(b"host", host.encode("latin-1"))]
    scope = {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http" if kind == "http" else "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }
    sent: list[Any] = []
    first = {"type": "http.request", "body": b"", "more_body": False}
    if kind == "websocket":
        first = {"type": "websocket.connect"}

    async def receive() -> dict[str, Any]:
        return first

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def status_and_body(sent: list[Any]) -> tuple[int, bytes]:
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def test_dev_refuses_a_dns_rebinding_host_before_the_app_answers(
    served: list[Any],
) -> None:
    # A page at http://attacker.example:8000 re-resolved to 127.0.0.1 reads what it fetches.
    status, body = status_and_body(await call(dev_app(served), REBOUND))
    assert status == 421
    problem = json.loads(body)
    assert problem["type"] == "urn:daloy-edge:problem:host-not-allowed"
    assert "--allow-host attacker.example" in problem["detail"]
    assert b"secret" not in body


@pytest.mark.parametrize(
    "host",
    [
        "<script>document.title='x'</script>",
        'a.example"><img src=x onerror=alert(1)>:8000',
        "</title></style></textarea></script>--><svg/onload=alert()>",
        "a&lt;b.example",
    ],
)
async def test_dev_refusal_escapes_markup_in_a_forged_host(served: list[Any], host: str) -> None:
    # XSS corpus payloads in the Host: echoed in the 421's detail as every problem
    # document writes text, "<", ">" and "&" as JSON escapes, never as markup.
    status, body = status_and_body(await call(dev_app(served), host))
    assert status == 421
    assert not any(raw in body for raw in (b"<", b">", b"&"))
    assert host_name(host) in json.loads(body)["detail"]


async def test_dev_refuses_a_dns_rebinding_host_for_the_dev_jwks(served: list[Any]) -> None:
    sent = await call(dev_app(served), REBOUND, path="/.well-known/dev-jwks.json")
    assert status_and_body(sent)[0] == 421


async def test_dev_refuses_a_dns_rebinding_websocket_handshake(served: list[Any]) -> None:
    sent = await call(dev_app(served), REBOUND, path="/ws", kind="websocket")
    assert sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8000",
        "localhost:8000",
        "LOCALHOST",
        "[::1]:8000",
        "app.localhost:8000",
        "localhost.:8000",  # the fully qualified spelling of the same name
        "app.localhost.",
        "192.168.1.20:8000",  # an address names the server itself: nothing to re-point
        None,  # no browser omits Host
    ],
)
async def test_dev_answers_loopback_names_and_ip_addresses(
    served: list[Any], host: str | None
) -> None:
    assert status_and_body(await call(dev_app(served), host)) == (200, b"secret")


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("dev.example.test:8000", 200),
        ("dev.example.test.:8000", 200),
        ("a.tunnel.example.", 200),
        ("attacker.example.", 421),
        ("tunnel.example.attacker.example.", 421),
        ("a.tunnel.example", 200),
        ("tunnel.example", 200),
        ("eviltunnel.example", 421),
        ("tunnel.example.attacker.example", 421),
        ("example.test", 421),
    ],
)
async def test_dev_answers_the_names_given_with_allow_host(
    served: list[Any], host: str, status: int
) -> None:
    app = dev_app(served, "--allow-host", "Dev.Example.Test", "--allow-host", ".tunnel.example")
    assert status_and_body(await call(app, host))[0] == status


async def test_dev_answers_the_name_it_listens_on(
    served: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from daloy_edge.commands import dev

    real = dev.listen_socket
    monkeypatch.setattr(dev, "listen_socket", lambda host, port: real("127.0.0.1", port))
    app = dev_app(served, "--host", "devbox.test")
    assert status_and_body(await call(app, "devbox.test:8000"))[0] == 200
    assert status_and_body(await call(app, REBOUND))[0] == 421


@pytest.mark.parametrize("value", ["*", "http://dev.example", "dev.example:8000", ".", "a..b"])
def test_allow_host_refuses_what_is_not_a_host_name(
    project: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["dev", "--allow-host", value])
    assert stopped.value.code == 2
    assert "is not a host name" in capsys.readouterr().err


def test_allow_host_refuses_a_kelvin_sign_lookalike_name() -> None:
    # "\u212a".lower() is "k": "--allow-host \u212aiosk.example" allowed kiosk.example.
    with pytest.raises(ValueError, match="is not a host name"):
        allow_host_argument("\u212aiosk.example")


@pytest.mark.slow
def test_dev_server_refuses_a_dns_rebinding_host_over_http(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DALOY_")}
    env.update(PYTHONPATH=str(ROOT), DALOY_DEV_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "daloy_edge.cli", "dev", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(port)
        answers = {}
        for host in (f"attacker.example:{port}", f"127.0.0.1:{port}"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/boom", headers={"Host": host, "Sec-Fetch-Site": "same-origin"})
            answers[host.partition(":")[0]] = conn.getresponse().status
            conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert answers == {"attacker.example": 421, "127.0.0.1": 500}
