"""Where the property-based tests keep what Hypothesis writes."""

from __future__ import annotations

from hypothesis import given, settings, strategies

from tests.conftest import ROOT


@settings(max_examples=5, deadline=None, derandomize=True)
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
