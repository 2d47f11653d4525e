"""Where the property-based tests keep what Hypothesis writes."""

from __future__ import annotations

from hypothesis import given, settings, strategies

from tests.conftest import ROOT


@settings(max_examples=5)
@given(strategies.text(max_size=3))
def check_text(text: str) -> None:
    assert isinstance(text, str)


def test_a_property_run_writes_nothing_into_the_checkout() -> None:
    # With derandomize (no example database) Hypothesis still wrote its caches (constants
    # read from the code, unicode tables) to ./.hypothesis in the repository root.
    from hypothesis.configuration import storage_directory

    check_text()
    where = storage_directory("constants", intent_to_write=False).path
    assert not where.resolve().is_relative_to(ROOT)
    assert not (ROOT / ".hypothesis").exists()


def test_property_runs_are_the_same_examples_on_every_run() -> None:
    # The model tests give only their sizes: each CI run must draw the examples the last
    # one drew (a failure found once is found again), with no deadline on steps that
    # wait for a real redis-server or moto.
    current = settings()
    assert current.derandomize
    assert current.deadline is None
    assert current.database is None
