"""Conformance fixtures: every test runs once per transport, against the same contract.

Write tests against the ``http`` fixture only (``http.get``, ``http.post``,
``http.request(method, target, headers=, body=)`` returning status, a multi-value
``headers`` and the ``body`` bytes); they then run on every runtime. The environment
every copy of the reference app is built from is ``CONFORMANCE_ENV`` in
``harness/targets.py`` plus ``DALOY_JWKS_FILE`` from the session's ``issuer``;
``closed`` serves the reference app with nothing optional configured (``CLOSED_ENV``).
Servers start once per session, on first use; ``workers`` runs in the session's one
Pyodide process (``workers_harness``), with the JWKS file copied into its file system.
A test that needs state of its own (a rate-limit quota) asks ``http.with_client(ip)``
for a client address no other test uses, or ``transport_pool.isolated`` for an app.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.conformance.harness.client import Transport
from tests.conformance.harness.identity import Issuer
from tests.conformance.harness.targets import (
    CLOSED,
    PROBE,
    REFERENCE,
    Pool,
    Target,
    transport_params,
)
from tests.conformance.harness.upstream import Upstream


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Issuer:
    """The session's token issuer; its JWKS file is the reference app's key source."""
    return Issuer(tmp_path_factory.mktemp("conformance-jwks"))


@pytest.fixture(scope="session")
def transport_pool(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[Pool]:
    keys = {"DALOY_JWKS_FILE": str(issuer.jwks_file)}
    pool = Pool(tmp_path_factory.mktemp("conformance-logs"), {REFERENCE.key: keys})
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    """The loopback server ``/fetch`` is allowed to reach."""
    server = Upstream()
    yield server
    server.stop()


_FETCH_WARMED: set[str] = set()


@pytest.fixture
def fetch_ready(http: Transport, upstream: Upstream) -> None:
    """One /fetch per transport first: the first in a process imports the HTTP client
    (about 0.3 s here), which the 400 ms conformance deadline (short, so the 504 tests
    are quick) can cut off. Only that warm-up answer may be a 504."""
    if http.name not in _FETCH_WARMED:
        _FETCH_WARMED.add(http.name)
        reply = http.get("/fetch?url=" + quote(upstream.url("/payload"), safe=""))
        assert reply.status in (200, 504), reply.body[:300]


def _served(request: pytest.FixtureRequest, pool: Pool, target: Target) -> Transport:
    kind: str = request.param
    if kind == "workers" and pool.workers is None:
        # The session's one Pyodide process, started only when a Workers case runs.
        pool.workers = request.getfixturevalue("workers_harness")
    return pool.get(target, kind)


@pytest.fixture(params=transport_params())
def http(request: pytest.FixtureRequest, transport_pool: Pool) -> Transport:
    """The reference app (examples.secure_app) behind one transport."""
    return _served(request, transport_pool, REFERENCE)


@pytest.fixture(params=transport_params())
def closed(request: pytest.FixtureRequest, transport_pool: Pool) -> Transport:
    """The reference app with nothing optional configured, behind one transport."""
    return _served(request, transport_pool, CLOSED)


@pytest.fixture(params=transport_params())
def probe(request: pytest.FixtureRequest, transport_pool: Pool) -> Transport:
    """The probe app (tests/conformance/probe_app.py) behind one transport."""
    return _served(request, transport_pool, PROBE)
