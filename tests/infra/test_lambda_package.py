"""The reference app's Lambda package (``make build-AppFunction``, what ``sam build`` runs)
serves requests on its own: the core, the adapter, the app and its dependencies are in it.

Built here for this interpreter's Python version and platform (the template's arm64 and
Python 3.13 cannot run on this machine); the wheels come from the locked versions.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import jwtkit

ROOT = Path(__file__).resolve().parents[2]


INVOKE = """
import importlib, sys
compiled = []
def hook(event, args):
    if event == "compile" and isinstance(args[1], str) and args[1].endswith(".py"):
        compiled.append(args[1])
sys.addaudithook(hook)
entry = importlib.import_module("examples.lambda.secure_entry")
results = []
for path, token in {calls!r}:
    headers = {{"host": "api.example.com"}}
    if token:
        headers["authorization"] = "Bearer " + token
    event = {{
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers, "isBase64Encoded": False,
        "requestContext": {{"http": {{"method": "GET", "path": path, "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7"}}, "requestId": "pkg", "stage": "$default"}},
    }}
    results.append(entry.lambda_handler(event, None)["statusCode"])
import cryptography, httpx, jwt
from daloy_edge._importer import PackageFinder
print(repr({{"status": results, "from": [m.__file__ for m in (cryptography, httpx, jwt)],
             "compiled": compiled,
             "finder": any(isinstance(f, PackageFinder) for f in sys.meta_path)}}),
      file=sys.stderr)
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lambda-package")
    machine = {"arm64": "aarch64"}.get(platform.machine(), platform.machine())
    env = {
        **os.environ,
        "LAMBDA_PYTHON_VERSION": f"{sys.version_info.major}.{sys.version_info.minor}",
        "LAMBDA_PLATFORM": f"{machine}-manylinux2014",
    }
    subprocess.run(
        ["make", "--no-print-directory", "build-AppFunction", f"ARTIFACTS_DIR={out}"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return out


def test_the_package_holds_the_app_and_no_build_leftovers(package: Path) -> None:
    for name in ("daloy_edge", "daloy_edge_aws_lambda", "examples", "jwt", "cryptography", "httpx"):
        assert (package / name).is_dir(), name
    assert (package / "examples" / "lambda" / "secure_entry.py").is_file()
    assert not (package / "tests").exists()
    assert not (package / "daloy_edge" / "ruff.toml").exists()


def test_every_module_ships_with_unchecked_bytecode_for_the_runtime(package: Path) -> None:
    # Built for this interpreter's version (as the fixture asks), so its cache tag.
    tag = sys.implementation.cache_tag
    sources = [p for p in package.rglob("*.py") if "__pycache__" not in p.parts]
    caches = list(package.rglob("*.pyc"))
    assert len(sources) > 300
    missing = [
        source
        for source in sources
        if not (source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc").is_file()
    ]
    assert missing == []
    # Only this version's caches (nothing left from the machine that built the package),
    # and each an unchecked hash: a zip's timestamps cannot make it stale.
    assert {cache.name.split(".")[-2] for cache in caches} == {tag}
    assert {cache.read_bytes()[4:8] for cache in caches} == {b"\x01\0\0\0"}


def test_the_package_serves_health_and_bearer_tokens_on_its_own(
    package: Path, tmp_path: Path
) -> None:
    key = jwtkit.rsa_key("pkg-1")
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(jwtkit.jwks(jwtkit.public_jwk(key, "pkg-1"))))
    token = jwtkit.mint(
        key,
        "RS256",
        "pkg-1",
        jwtkit.claims(
            iat=int(time.time()) - 5, nbf=int(time.time()) - 5, exp=int(time.time()) + 300
        ),
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(package),
        "AWS_LAMBDA_FUNCTION_NAME": "pkg",
        # A function's code is read-only: nothing can be compiled and kept.
        "PYTHONDONTWRITEBYTECODE": "1",
        "DALOY_ENV": "production",
        "DALOY_SESSION_KEYS": "kR7w2mQ9xT4vB8nL1pZ6cF3hJ5sD0gYa",
        "DALOY_JWKS_FILE": str(jwks_file),
        "DALOY_JWT_ISSUER": jwtkit.ISSUER,
        "DALOY_JWT_AUDIENCE": jwtkit.AUDIENCE,
    }
    calls = [("/health", None), ("/api/me", token), ("/api/me", None)]
    # ``-S``: no site-packages, so everything past the standard library comes from the package.
    done = subprocess.run(
        [sys.executable, "-S", "-c", INVOKE.format(calls=calls)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = ast.literal_eval(done.stderr.strip().splitlines()[-1])
    assert report["status"] == [200, 200, 401]
    assert all(path.startswith(str(package)) for path in report["from"])
    # The cold start, JWT verification and its libraries included, compiled nothing:
    # every module came from the package's bytecode (the core's through its finder).
    assert report["compiled"] == []
    assert report["finder"] is True
