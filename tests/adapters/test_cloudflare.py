"""The Cloudflare adapter's runtime-independent parts, on CPython (the rest: tests/workers)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import sys

import daloy_edge_cloudflare
import pytest
from daloy_edge_cloudflare import (
    InvalidKey,
    WebCryptoBackend,
    WorkerEnv,
    client_address,
)

from daloy_edge import Headers, Secret
from daloy_edge.transport import HttpxTransport, default_transport, set_default_transport
from tests.support.servers import ROOT

PUBLIC_API = [
    "CLIENT_HEADER",
    "WAIT_UNTIL",
    "WEBCRYPTO_ALGORITHMS",
    "AppFactory",
    "FetchTransport",
    "InvalidKey",
    "VerificationKey",
    "WebCryptoBackend",
    "WorkerEnv",
    "WorkersApp",
    "client_address",
    "entrypoint",
    "to_js_response",
    "to_request",
]


class HmacKey:
    params: dict[str, str] = {}

    def __init__(self, secret: bytes | None) -> None:
        self.secret = Secret(secret) if secret is not None else None


class EcKey:
    params = {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}
    secret = None


def test_public_api_is_pinned() -> None:
    assert sorted(daloy_edge_cloudflare.__all__) == sorted(PUBLIC_API)


def test_every_public_name_is_documented() -> None:
    for name in daloy_edge_cloudflare.__all__:
        obj = getattr(daloy_edge_cloudflare, name)
        if callable(obj) and str(getattr(obj, "__module__", "")).startswith("daloy_edge"):
            assert (obj.__doc__ or "").strip(), name


def test_importing_the_adapter_loads_no_pyodide_module() -> None:
    probe = "import daloy_edge_cloudflare, sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = {m.split(".")[0] for m in json.loads(out.stdout)}
    assert loaded.isdisjoint({"js", "pyodide", "workers", "httpx", "cryptography", "jwt"})


def test_client_address_is_the_normalised_ip() -> None:
    assert client_address(Headers({"cf-connecting-ip": " 2001:DB8::1 "})) == "2001:db8::1"


@pytest.mark.parametrize("value", ["", "unknown", "1.2.3.4, 5.6.7.8", "1.2.3.4:80"])
def test_client_address_refuses_anything_but_one_ip(value: str) -> None:
    assert client_address(Headers({"cf-connecting-ip": value})) is None


def test_client_address_ignores_forwarded_headers() -> None:
    headers = Headers({"x-forwarded-for": "203.0.113.1", "forwarded": "for=203.0.113.1"})
    assert client_address(headers) is None


def test_worker_env_keeps_text_and_leaves_other_bindings_out() -> None:
    env = WorkerEnv({"DALOY_ENV": "production", "KV": object(), "NONE": None})
    assert dict(env) == {"DALOY_ENV": "production"}


def test_worker_env_reads_a_number_var_as_its_text() -> None:
    # DALOY_MAX_BODY_BYTES = 65536 in wrangler.toml is a JSON number, not text: left out,
    # the app silently used the 1 MiB default where Lambda and Cloud Functions read 65536.
    env = WorkerEnv({"DALOY_MAX_BODY_BYTES": 65536, "RATIO": 0.5})
    assert dict(env) == {"DALOY_MAX_BODY_BYTES": "65536", "RATIO": "0.5"}


def test_worker_env_reads_a_boolean_var_as_json_text() -> None:
    assert dict(WorkerEnv({"FLAG": True, "OFF": False})) == {"FLAG": "true", "OFF": "false"}


def test_worker_env_repr_shows_names_not_secret_values() -> None:
    env = WorkerEnv({"DALOY_SESSION_KEYS": "super-secret-value"})
    assert "super-secret-value" not in repr(env) and "DALOY_SESSION_KEYS" in repr(env)


def test_worker_env_binding_returns_non_string_bindings() -> None:
    kv = object()
    assert WorkerEnv({"KV": kv}).binding("KV") is kv


def test_worker_env_missing_binding_is_key_error() -> None:
    with pytest.raises(KeyError):
        WorkerEnv({}).binding("KV")


def test_hmac_signature_verifies_with_the_stdlib() -> None:
    secret = b"k" * 32
    mac = hmac.new(secret, b"a.b", hashlib.sha256).digest()
    backend = WebCryptoBackend()

    async def check() -> tuple[bool, bool]:
        key = await backend.import_key(HmacKey(secret), "HS256")
        return (
            await backend.verify("HS256", key, b"a.b", mac),
            await backend.verify("HS256", key, b"a.c", mac),
        )

    assert asyncio.run(check()) == (True, False)


def test_hmac_algorithm_without_a_secret_is_refused() -> None:
    with pytest.raises(InvalidKey):
        asyncio.run(WebCryptoBackend().import_key(HmacKey(None), "HS256"))


@pytest.mark.parametrize("alg", ["RS256", "ES384", "EdDSA", "none", "HS256"])
def test_key_confusion_between_types_is_refused_before_webcrypto(alg: str) -> None:
    with pytest.raises(InvalidKey):
        asyncio.run(WebCryptoBackend().import_key(EcKey(), alg))


def test_hmac_verify_refuses_a_prepared_public_key() -> None:
    assert asyncio.run(WebCryptoBackend().verify("HS256", object(), b"a.b", b"x" * 32)) is False


def test_default_transport_is_httpx_until_an_adapter_installs_one() -> None:
    assert isinstance(default_transport(), HttpxTransport)


def test_installed_default_transport_is_returned_until_reset() -> None:
    installed = HttpxTransport()
    set_default_transport(installed)
    try:
        assert default_transport() is installed
    finally:
        set_default_transport(None)
    assert default_transport() is not installed
