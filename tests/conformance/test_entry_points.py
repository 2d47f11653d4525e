"""The reference app's entry points: lazy adapters, and the real runtimes loading them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from collections.abc import MutableMapping
from typing import Any

import pytest

from tests.conformance.harness.gateways import build_event, read_result
from tests.conformance.harness.servers import RuntimeClientTransport
from tests.conformance.harness.targets import PROBE, ROOT, Pool
from tests.support.servers import bound_socket

SDKS = ("boto3", "botocore", "flask", "werkzeug", "mangum", "js", "pyodide", "workers")
ADAPTERS = ("daloy_edge_aws_lambda", "daloy_edge_gcp_functions", "daloy_edge_cloudflare")


def imported_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return {name.split(".")[0] for name in json.loads(out.stdout.splitlines()[-1])}


def test_importing_secure_app_imports_no_adapter_sdk() -> None:
    loaded = imported_after("import examples.secure_app as s; s.app, s.asgi")
    assert loaded.isdisjoint(SDKS + ADAPTERS), loaded & set(SDKS + ADAPTERS)


def test_lambda_handler_brings_in_only_the_lambda_adapter() -> None:
    loaded = imported_after("from examples.secure_app import lambda_handler")
    assert "daloy_edge_aws_lambda" in loaded
    assert loaded.isdisjoint(SDKS), loaded & set(SDKS)


def test_gcf_handler_is_a_plain_function_as_functions_framework_requires() -> None:
    import examples.secure_app as secure_app

    assert isinstance(secure_app.gcf_handler, types.FunctionType)


def test_importing_create_app_builds_no_app() -> None:
    # The Lambda and Workers entries import create_app and build with their own env; an
    # app built from os.environ on import would warn about keys it is about to receive.
    script = (
        "from examples.secure_app import create_app\n"
        "import examples.secure_app as s\n"
        "print(sorted(set(vars(s)) & {'app', 'lambda_handler', 'gcf_handler'}), s.asgi._served)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert (done.stdout.strip(), done.stderr) == ("[] None", "")


def test_asgi_entry_is_found_in_the_module_namespace_as_hypercorn_looks_it_up() -> None:
    # Hypercorn evaluates ``name`` of ``module:name`` in vars(module), where a module
    # __getattr__ is never asked: the entry must be a real name, built on its first call.
    import examples.secure_app as secure_app

    entry = eval("asgi", vars(secure_app))
    assert entry is secure_app.asgi
    assert entry.app is secure_app.app


@pytest.mark.slow
def test_uvicorn_exits_on_a_configuration_the_app_refuses_rather_than_serve_500s() -> None:
    # Built on the server's first call, the app's ConfigError reached uvicorn inside the
    # lifespan, which it took for "lifespan unsupported": it served on, and every request
    # got a bare 500 without request id, problem or headers.
    sock = bound_socket()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DALOY_")}
    env.update(PYTHONPATH=str(ROOT), DALOY_CORS_ORIGINS="not-an-origin")
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "examples.secure_app:asgi",
                "--fd",
                str(sock.fileno()),
            ],
            check=False,
            cwd=ROOT,
            env=env,
            pass_fds=(sock.fileno(),),
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("uvicorn served an app that refused its configuration")
    finally:
        sock.close()
    assert done.returncode == 3, done.stderr
    assert "Application startup failed" in done.stderr
    assert "DALOY_CORS_ORIGINS" in done.stdout  # the app's ERROR line says what to fix


async def test_asgi_entry_without_a_lifespan_answers_a_refused_configuration_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import examples.secure_app as secure_app

    monkeypatch.delitem(vars(secure_app), "app", raising=False)
    monkeypatch.setenv("DALOY_CORS_ORIGINS", "not-an-origin")
    sent: list[dict[str, Any]] = []
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/health",
        "raw_path": b"/health",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await secure_app._ASGIEntry()(scope, receive, send)
    headers = dict(sent[0]["headers"])
    assert (sent[0]["status"], headers[b"content-type"]) == (503, b"application/problem+json")
    assert b"x-request-id" in headers
    # CONTRACT.md: every answer carries the secure headers, this one too.
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert b"strict-transport-security" in headers
    assert "app" not in vars(secure_app)  # the next call builds again


def test_building_through_create_app_imports_no_adapter() -> None:
    # What the Worker and Lambda entries do: their bundles need no ASGI adapter.
    loaded = imported_after(
        "from examples.secure_app import create_app\ncreate_app({'DALOY_ENV': 'development'})"
    )
    assert loaded.isdisjoint(("daloy_edge_asgi", *ADAPTERS, *SDKS))


def test_app_attribute_is_built_once_and_shared_by_entry_points() -> None:
    import examples.secure_app as secure_app

    assert secure_app.app is secure_app.app
    assert secure_app.asgi.app is secure_app.app


def test_unknown_attribute_of_secure_app_raises_attribute_error() -> None:
    import examples.secure_app as secure_app

    with pytest.raises(AttributeError):
        secure_app.no_such_entry_point


@pytest.fixture
def runtime_client(transport_pool: Pool) -> RuntimeClientTransport:
    transport = transport_pool.get(PROBE, "awslambdaric-http-v2")
    assert isinstance(transport, RuntimeClientTransport)
    return transport


def invoke(transport: RuntimeClientTransport, target: str, budget_ms: int) -> tuple[int, object]:
    event = build_event("http-v2", "GET", target, [("host", "example.test")], b"")
    reply = read_result("http-v2", transport.api.invoke(event, budget_ms=budget_ms))
    return reply.status, reply.json()


@pytest.mark.slow
def test_awslambdaric_warm_invocations_share_one_loop_and_one_startup(
    runtime_client: RuntimeClientTransport,
) -> None:
    seen = [invoke(runtime_client, "/runtime", 30_000)[1] for _ in range(3)]
    assert len({json.dumps(s) for s in seen}) == 1
    assert seen[0]["startups"] == 1  # type: ignore[index]


@pytest.mark.slow
def test_awslambdaric_remaining_time_bounds_the_request_deadline(
    runtime_client: RuntimeClientTransport,
) -> None:
    # 700 ms left, 500 ms kept back to flush: a 400 ms handler must be cut off.
    status, _ = invoke(runtime_client, "/sleep?ms=400", 700)
    assert status == 504


@pytest.mark.slow
def test_awslambdaric_with_time_to_spare_answers(runtime_client: RuntimeClientTransport) -> None:
    status, _ = invoke(runtime_client, "/sleep?ms=50", 5_000)
    assert status == 200
