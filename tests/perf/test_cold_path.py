"""What a cold start loads: the reference app serving its first ``/health`` on Lambda.

Not timed (benchmarks in ``bench/`` do that). These tests pin *what* a cold invocation
imports: modules that cost a large share of a serverless cold start (``asyncio``,
``typing``, ``dataclasses`` and the ``inspect`` they pull in, OpenSSL's hashes, the
network stack, the JWT libraries) stay unloaded until a request needs them.
"""

from __future__ import annotations

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
    }
)

CHILD = """
import json, sys
before = set(sys.modules)
from examples.secure_app import lambda_handler
event = {event!r}
result = lambda_handler(event, None)
loaded = sorted({{m.split(".")[0] for m in set(sys.modules) - before}})
print(json.dumps({{"status": result["statusCode"], "loaded": loaded}}), file=sys.stderr)
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
    child_env.update(env, PYTHONPATH=str(ROOT), AWS_LAMBDA_FUNCTION_NAME="cold")
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(event=_event("/health"))],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        check=True,
    )
    report: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
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
    }


@pytest.mark.parametrize("configured", [False, True], ids=["unconfigured", "production"])
def test_first_health_invocation_defers_heavy_modules(
    configured: bool, production_env: dict[str, str]
) -> None:
    report = _cold(production_env if configured else {})
    assert report["status"] == 200
    loaded = set(report["loaded"])  # type: ignore[arg-type]
    assert sorted(loaded & DEFERRED) == []
