"""The public surface is explicit and the core stays free of runtime SDKs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from tests.support.servers import ROOT

PINNED = {
    "daloy_edge": [
        "App",
        "BadRequest",
        "ConfigError",
        "Forbidden",
        "GatewayTimeout",
        "HTTPError",
        "Headers",
        "InternalServerError",
        "KeyRing",
        "MethodNotAllowed",
        "NotFound",
        "PayloadTooLarge",
        "QueryParams",
        "Request",
        "RequestHeaderFieldsTooLarge",
        "RequestLimits",
        "Response",
        "Router",
        "Secret",
        "ServiceUnavailable",
        "TooManyRequests",
        "Unauthorized",
        "UnsafeJSON",
        "UnsupportedMediaType",
        "parse_json",
        "register_problem",
        "static_files",
        "use",
    ],
    "daloy_edge.types": [
        "JSON",
        "CallNext",
        "Clock",
        "Handler",
        "Middleware",
        "NonceStore",
        "RandomBytes",
        "RequestObserver",
    ],
    "daloy_edge.testing": ["TestClient", "TestResponse"],
    "daloy_edge.transport": [
        "HTTPTransport",
        "HttpxTransport",
        "TransportError",
        "TransportResponse",
        "default_transport",
        "set_default_transport",
    ],
    "daloy_edge_asgi": ["ASGIApp", "to_request"],
}

BANNED = [
    "js",
    "pyodide",
    "workers",
    "flask",
    "functions_framework",
    "boto3",
    "botocore",
    "mangum",
    "httpx",
    "jwt",
    "cryptography",
    "upstash_redis",
    "uvicorn",
    "starlette",
]


@pytest.mark.parametrize("module", sorted(PINNED))
def test_all_is_pinned(module: str) -> None:
    assert sorted(importlib.import_module(module).__all__) == sorted(PINNED[module])


@pytest.mark.parametrize("module", sorted(PINNED))
def test_every_exported_name_exists_and_is_documented(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        obj = getattr(mod, name)
        if callable(obj) and str(getattr(obj, "__module__", "")).startswith("daloy_edge"):
            doc = getattr(obj, "__doc__", None)
            assert doc and doc.strip(), f"{module}.{name} has no docstring"


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_core_loads_no_runtime_sdk_or_heavy_module() -> None:
    loaded = _loaded_after("import daloy_edge, daloy_edge.testing, daloy_edge.transport")
    assert [m for m in loaded if m.split(".")[0] in BANNED] == []


def test_importing_the_reference_app_loads_no_adapter_sdk() -> None:
    loaded = _loaded_after("import examples.secure_app as s; s.app, s.asgi")
    heavy = {
        "js",
        "pyodide",
        "workers",
        "flask",
        "functions_framework",
        "boto3",
        "botocore",
        "mangum",
    }
    assert [m for m in loaded if m.split(".")[0] in heavy] == []
