"""What only the Workers transport can show: inside Pyodide, bearer tokens from the
conformance JWKS file are verified by WebCrypto (``crypto.subtle``), with no
``cryptography`` to fall back on."""

from __future__ import annotations

import json

import pytest

from tests.conformance.harness.client import Transport
from tests.conformance.harness.identity import Issuer
from tests.conformance.harness.targets import REFERENCE, Pool
from tests.support.workers import PyodideHarness

pytestmark = pytest.mark.slow

WEBCRYPTO_STATE = """
import importlib.util
import json

from daloy_edge.jose import default_backend
from daloy_edge_cloudflare import _webcrypto

async def main():
    return {
        "backend": type(default_backend()).__name__,
        "cryptography": importlib.util.find_spec("cryptography") is not None,
        "imported": [[alg, json.loads(material)] for alg, material in _webcrypto._KEYS],
    }
"""


@pytest.fixture
def worker(transport_pool: Pool, workers_harness: PyodideHarness) -> Transport:
    if transport_pool.workers is None:
        transport_pool.workers = workers_harness
    return transport_pool.get(REFERENCE, "workers")


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_worker_verifies_tokens_with_webcrypto(
    worker: Transport, workers_harness: PyodideHarness, issuer: Issuer, alg: str
) -> None:
    reply = worker.get("/api/me", headers=issuer.bearer("reports:read", alg=alg))
    assert reply.status == 200, reply.body[:300]
    state = workers_harness.run(WEBCRYPTO_STATE)
    assert state["backend"] == "WebCryptoBackend"
    assert state["cryptography"] is False
    kid = issuer.kid if alg == "ES256" else issuer.rsa_kid
    published = next(k for k in issuer.jwks["keys"] if k["kid"] == kid)
    public = {m: published[m] for m in ("kty", "crv", "n", "e", "x", "y") if m in published}
    assert [alg, public] in state["imported"], json.dumps(state["imported"])[:300]
