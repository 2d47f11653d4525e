"""What a cold start loads: the reference app serving its first ``/health`` on Lambda.

Not timed (benchmarks in ``bench/`` do that). These tests pin *what* a cold invocation
imports: modules that cost a large share of a serverless cold start (``asyncio``,
``typing``, ``dataclasses`` and the ``inspect`` they pull in, OpenSSL's hashes, the
network stack, the JWT libraries) stay unloaded until a request needs them. So do ``re``
and ``json`` (``enum``, ``functools`` and ``collections`` come with them): together several
ms of a cold start that a ``GET /health`` has no use for.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import jwtkit

ROOT = Path(__file__).resolve().parents[2]

# Imported only when a feature that needs them runs.
DEFERRED = frozenset(
    {
        "asyncio",
        "typing",
        "dataclasses",
        "inspect",
        "ast",
        "hashlib",
        "hmac",
        "secrets",
        "random",
        "ssl",
        "socket",
        "subprocess",
        "logging",
        "concurrent",
        "ipaddress",
        "urllib",
        "html",
        "unicodedata",
        "textwrap",
        "pathlib",
        "threading",
        "base64",
        "traceback",
        "email",
        "http",
        "cryptography",
        "jwt",
        "httpx",
        "upstash_redis",
        "boto3",
        "botocore",
        "re",
        "json",
        "enum",
        "functools",
        "collections",
        "contextlib",
        "importlib",
        "warnings",
        "heapq",
        "math",
        "binascii",
        "string",
        "struct",
        "copy",
        "weakref",
        "types",
        "contextvars",
        "itertools",
        "operator",
    }
)

# Our own modules a cold ``/health`` has no use for: they load with the first request that
# needs them (an OpenTelemetry SDK the app imported, a rate-limited route, a denial).
OWN_DEFERRED = frozenset(
    {
        "daloy_edge.observability._otel",
        "daloy_edge.ratelimit.fixed_window",
        "daloy_edge.ratelimit.sliding_window",
        "daloy_edge.ratelimit.gcra",
        "daloy_edge.ratelimit._blocks",
    }
)

CHILD = """
import sys
before = set(sys.modules)
from examples.secure_app import lambda_handler
event = {event!r}
result = lambda_handler(event, None)
new = set(sys.modules) - before
loaded = sorted({{m.split(".")[0] for m in new}})
own = sorted(m for m in new if m.startswith("daloy_edge."))
print(repr({{"status": result["statusCode"], "loaded": loaded, "own": own}}), file=sys.stderr)
"""


def _event(path: str) -> dict[str, object]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", "user-agent": "cold"},
        "requestContext": {
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
            },
            "requestId": "cold",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def _cold(env: dict[str, str]) -> dict[str, object]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("DALOY_", "AWS_"))}
    # No ``site``: its ``.pth`` files (namespace packages, editable installs) import
    # ``collections``, ``functools`` and more before the app could, hiding what it loads.
    # A ``GET /health`` needs nothing from site-packages.
    path = os.pathsep.join([str(ROOT), str(ROOT / "adapters" / "aws_lambda")])
    child_env.update(env, PYTHONPATH=path, AWS_LAMBDA_FUNCTION_NAME="cold")
    done = subprocess.run(
        [sys.executable, "-S", "-c", CHILD.format(event=_event("/health"))],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        check=True,
    )
    report: dict[str, object] = ast.literal_eval(done.stderr.strip().splitlines()[-1])
    return report


@pytest.fixture(scope="module")
def production_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    jwks = tmp_path_factory.mktemp("jwks") / "jwks.json"
    jwks.write_text(json.dumps(jwtkit.jwks(jwtkit.public_jwk(jwtkit.rsa_key(), "rsa-1"))))
    return {
        "DALOY_ENV": "production",
        "DALOY_SESSION_KEYS": "kR7w2mQ9xT4vB8nL1pZ6cF3hJ5sD0gYa",
        "DALOY_JWKS_FILE": str(jwks),
        "DALOY_JWT_ISSUER": jwtkit.ISSUER,
        "DALOY_JWT_AUDIENCE": jwtkit.AUDIENCE,
        "DALOY_CORS_ORIGINS": "https://app.example.com",
        "DALOY_WEBHOOK_SECRETS": "whsec-cold-0123456789abcdef0123456789",
        "DALOY_ADMIN_USER": "ops",
        "DALOY_ADMIN_PASSWORDS": "correct-horse-battery-staple-0001",
        # Set by the Lambda runtime for every invocation; the request log parses it.
        "_X_AMZN_TRACE_ID": (
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        ),
    }


@pytest.mark.parametrize("configured", [False, True], ids=["unconfigured", "production"])
def test_first_health_invocation_defers_heavy_modules(
    configured: bool, production_env: dict[str, str]
) -> None:
    report = _cold(production_env if configured else {})
    assert report["status"] == 200
    loaded = set(report["loaded"])  # type: ignore[arg-type]
    assert sorted(loaded & DEFERRED) == []
    own = set(report["own"])  # type: ignore[arg-type]
    assert sorted(own & OWN_DEFERRED) == []
    # The check above is not vacuous: the app's own modules are reported.
    assert "daloy_edge.observability._logger" in own
