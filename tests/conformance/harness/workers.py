"""Cloudflare Workers as a conformance transport: our adapter in real Pyodide under Node.

The session's one Pyodide process (``tests/support/workers.py``) serves every Workers
target, each in an isolate of its own: the reference app from the ``examples/workers``
bundle (``src/entry.py``, as deployed), other apps (the probe) from a Worker module
generated for them. Host files the environment names (``DALOY_JWKS_FILE``) are copied
into the Pyodide file system and the variable points at the copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import PurePosixPath

from daloy_edge import Headers
from tests.conformance.harness.client import Reply, Transport
from tests.support.servers import ROOT
from tests.support.workers import PyodideHarness, WorkersClient

BUNDLED_MODULE = "examples.secure_app"
"""The module ``examples/workers/src/entry.py`` serves."""
BUNDLED_ENTRY = "entry:Default"
FILE_VARIABLES = ("DALOY_JWKS_FILE",)
"""Variables naming a host file the Worker has to read."""
FILES_DIR = PurePosixPath("/conformance")
CLIENT = "127.0.0.1"
"""The default ``cf-connecting-ip``, so /admin's allow-list (loopback) admits it."""


class WorkersTransport(Transport):
    """A :class:`WorkersClient` read back in the conformance ``Reply`` shape.

    A request no JS ``Request`` can carry is answered 400 with nothing else, as the
    edge does before any Worker runs.
    """

    name = "workers"

    def __init__(self, client: WorkersClient) -> None:
        self.worker = client
        self.client = client.client_ip

    def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        worker = self.worker
        if self.client != worker.client_ip:
            worker = replace(worker, client_ip=self.client)
        response = worker.send(method, target, headers, body)
        return Reply(response.status, Headers(response.headers), response.body)

    def with_client(self, address: str) -> Transport:
        return self._view(address)


def _worker_env(harness: PyodideHarness, key: str, env: Mapping[str, str]) -> dict[str, str]:
    copied = dict(env)
    pairs: list[tuple[str, str]] = []
    for variable in FILE_VARIABLES:
        if copied.get(variable):
            inside = FILES_DIR / key / PurePosixPath(copied[variable]).name
            pairs.append((copied[variable], str(inside)))
            copied[variable] = str(inside)
    if pairs:
        harness.write_files(pairs)
    return copied


def start_workers(
    harness: PyodideHarness, key: str, module: str, env: Mapping[str, str]
) -> WorkersTransport:
    """Serve ``module``'s ``create_app`` (built from ``env``) in an isolate named for ``key``."""
    if module == BUNDLED_MODULE:
        entry = BUNDLED_ENTRY
    else:
        source = ROOT / (module.replace(".", "/") + ".py")
        entry = harness.add_worker(f"conformance_{key}", module, sources=[source])
    client = WorkersClient(
        harness,
        env=_worker_env(harness, key, env),
        isolate=f"conformance-{key}",
        entry=entry,
        client_ip=CLIENT,
    )
    transport = WorkersTransport(client)
    transport.get("/health")  # builds the app now, so a broken start fails here
    return transport
