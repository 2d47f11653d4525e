"""The /fetch conformance cases that name metadata and private addresses, run inside a
fresh network namespace; each inner case of ``netns_contract_fetch.py`` is reported here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import netns

INNER = Path(__file__).with_name("netns_contract_fetch.py")


@pytest.mark.parametrize("test", netns.inner_tests(INNER))
def test_inside_network_namespace(test: str) -> None:
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    outcome = netns.check(INNER.stem, test)
    assert outcome.passed, outcome.message
    if outcome.skipped:
        pytest.skip("skipped inside the namespace")
