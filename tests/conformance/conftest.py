"""Conformance fixtures: every test runs once per transport, against the same contract.

Write tests against the ``http`` fixture only (``http.get``, ``http.post``,
``http.request(method, target, headers=, body=)`` returning status, a multi-value
``headers`` and the ``body`` bytes); they then run on every runtime. The environment
every copy of the reference app is built from is ``CONFORMANCE_ENV`` in
``harness/targets.py``; servers start once per session, on first use.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conformance.harness.client import Transport
from tests.conformance.harness.targets import PROBE, REFERENCE, Pool, transport_params


@pytest.fixture(scope="session")
def transport_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    pool = Pool(tmp_path_factory.mktemp("conformance-logs"))
    yield pool
    pool.close()


@pytest.fixture(params=transport_params())
def http(request: pytest.FixtureRequest, transport_pool: Pool) -> Transport:
    """The reference app (examples.secure_app) behind one transport."""
    return transport_pool.get(REFERENCE, request.param)


@pytest.fixture(params=transport_params())
def probe(request: pytest.FixtureRequest, transport_pool: Pool) -> Transport:
    """The probe app (tests/conformance/probe_app.py) behind one transport."""
    return transport_pool.get(PROBE, request.param)
