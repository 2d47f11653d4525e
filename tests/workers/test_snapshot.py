"""What a Worker's top level does: it runs once at deploy, into the memory snapshot every
isolate starts from, before any request and before the adapter installs ``fetch`` and
WebCrypto as the runtime's defaults.

An app built at module level (``app = App(...)`` then ``Default = entrypoint(app)``)
builds its parts there. Each test imports its Worker module as a new isolate's top level
would, with no runtime default installed yet, and only then sends it requests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from daloy_edge.scaffold import generate
from tests import jwtkit
from tests.support.workers import MAIN_DIR, PyodideHarness

pytestmark = pytest.mark.slow

KID = "rsa-1"


def jwks_document() -> bytes:
    return json.dumps(jwtkit.jwks(jwtkit.public_jwk(jwtkit.rsa_key(), KID))).encode()


class JWKSHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        body = jwks_document()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), JWKSHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


def token() -> str:
    now = int(time.time())
    body = jwtkit.claims(iat=now, nbf=now, exp=now + 600)
    return jwtkit.mint(jwtkit.rsa_key(), "RS256", KID, body)


def import_at_deploy(harness: PyodideHarness, name: str, source: str, isolate: str) -> str:
    """Write Worker module ``name`` and import it as a new isolate's top level: before
    any request, so with none of the adapter's runtime defaults installed yet."""
    harness.call("write", files=[[f"{MAIN_DIR}/{name}.py", source]])
    harness.run(
        f"""
import _harness
from daloy_edge.jose import set_default_backend
from daloy_edge.transport import set_default_transport

async def main():
    set_default_transport(None)
    set_default_backend(None)
    _harness._load({name!r}, {isolate!r})
"""
    )
    return f"{name}:Default"


APP_AT_IMPORT = """
from daloy_edge import App
from daloy_edge.jose import {keys_import}
from daloy_edge.middleware.jwt import JWTAuth, JWTConfig
from daloy_edge_cloudflare import entrypoint

app = App()
app.use(JWTAuth(JWTConfig(
    issuer={issuer!r}, audience={audience!r}, algorithms=("RS256",), keys={keys},
)))


@app.get("/me")
async def me(request):
    return {{"sub": request.principal.subject}}


Default = entrypoint(app)
"""


def test_a_jwks_client_built_at_import_fetches_keys_through_fetch(
    workers_harness: PyodideHarness, jwks_url: str
) -> None:
    # Built before the adapter installed fetch, the client kept httpx, which no Worker
    # has: every bearer request was a 500 (httpx missing) or, bundled, a 503.
    source = APP_AT_IMPORT.format(
        keys_import="JWKSClient",
        keys=f"JWKSClient({jwks_url!r}, allow_insecure_http=True)",
        issuer=jwtkit.ISSUER,
        audience=jwtkit.AUDIENCE,
    )
    entry = import_at_deploy(workers_harness, "jwks_at_import", source, "jwks-at-import")
    response = workers_harness.fetch(
        "GET",
        "https://worker.example/me",
        entry=entry,
        isolate="jwks-at-import",
        headers=[("authorization", f"Bearer {token()}")],
    )
    assert (response.status, response.json()) == (200, {"sub": "alice"})


def test_a_verifier_built_at_import_verifies_with_webcrypto(
    workers_harness: PyodideHarness,
) -> None:
    # Built before the adapter installed WebCrypto, the verifier kept the PyJWT backend,
    # whose RSA and EC keys need ``cryptography``, which no Worker has: every token a 500.
    document = jwks_document().decode()
    source = f"""
from daloy_edge import App
from daloy_edge.jose import ClaimsPolicy, JWKSet, JWTVerifier
from daloy_edge_cloudflare import entrypoint

verifier = JWTVerifier(
    keys=JWKSet.parse({document!r}),
    algorithms=("RS256",),
    policy=ClaimsPolicy(issuer={jwtkit.ISSUER!r}, audience={jwtkit.AUDIENCE!r}),
)
app = App()


@app.post("/verify")
async def verify(request):
    verified = await verifier.verify((await request.body()).decode())
    return {{"sub": verified.claims["sub"]}}


Default = entrypoint(app)
"""
    entry = import_at_deploy(workers_harness, "verifier_at_import", source, "verifier-at-import")
    response = workers_harness.fetch(
        "POST",
        "https://worker.example/verify",
        entry=entry,
        isolate="verifier-at-import",
        body=token().encode(),
    )
    assert (response.status, response.json()) == (200, {"sub": "alice"})


AT_TOP_LEVEL = """
import os, sys, time, traceback

import _harness

OWN = ("daloy_edge", "examples", "app")


def ours(name):
    return name.split(".")[0] in OWN


async def main():
    # Our modules are imported afresh, as at deploy, then the session's are put back.
    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    for name in saved:
        del sys.modules[name]
    calls = []

    def noted(name, original):
        def call(*args):
            frame = traceback.extract_stack(limit=2)[0]
            calls.append(f"{name} from {frame.filename}:{frame.lineno}")
            return original(*args)
        return call

    patched = [(os, "urandom")] + [(time, name) for name in CLOCKS]
    originals = [getattr(owner, name) for owner, name in patched]
    for (owner, name), original in zip(patched, originals):
        setattr(owner, name, noted(name, original))
    sys.path.insert(0, SCAFFOLD)
    try:
        for entry, isolate in ENTRIES:
            _harness._load(entry, isolate)
    finally:
        sys.path.remove(SCAFFOLD)
        for (owner, name), original in zip(patched, originals):
            setattr(owner, name, original)
        for name in [name for name in sys.modules if ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
    return calls
"""
CLOCKS = ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns")


def test_importing_the_worker_entries_draws_no_random_bytes_and_reads_no_clock(
    workers_harness: PyodideHarness, tmp_path: Path
) -> None:
    # At deploy, os.urandom raises ("Randomness is not allowed while a Worker is
    # starting": the deploy fails) and the clocks read 0; whatever the top level drew or
    # read would be the same in every isolate started from the snapshot.
    # The scaffold's entry imports its app module, which builds an app at import.
    generate("hello", "workers", tmp_path / "hello")
    source, scaffold = tmp_path / "hello" / "src", "/session/scaffold"
    workers_harness.write_files(
        [
            (source / "app.py", f"{scaffold}/app.py"),
            (source / "entry.py", f"{MAIN_DIR}/scaffold_entry.py"),
        ]
    )
    entries = [("entry", "top-level-reference"), ("scaffold_entry", "top-level-scaffold")]
    code = f"SCAFFOLD = {scaffold!r}\nENTRIES = {entries!r}\nCLOCKS = {CLOCKS!r}\n" + AT_TOP_LEVEL
    assert workers_harness.run(code) == []
