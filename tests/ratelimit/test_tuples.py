"""The rate limiter's result tuples behave as the ``collections.namedtuple`` they replace."""

from __future__ import annotations

import copy
import pickle
from collections import namedtuple
from typing import Any

import pytest

from daloy_edge.ratelimit import Decision, Quota, Verdict

ORACLES: list[tuple[Any, Any, tuple[Any, ...]]] = [
    (Quota, namedtuple("Quota", ("limit", "window_ms", "cost"), defaults=(1,)), (5, 60_000, 2)),
    (
        Verdict,
        namedtuple("Verdict", ("allowed", "remaining", "reset_ms", "retry_ms")),
        (True, 4, 1_000, 0),
    ),
    (
        Decision,
        namedtuple(
            "Decision",
            ("allowed", "limit", "remaining", "reset_s", "retry_after_s", "degraded"),
            defaults=(False,),
        ),
        (False, 5, 0, 60, 12, True),
    ),
]


@pytest.mark.parametrize(("kind", "oracle", "values"), ORACLES)
def test_same_surface_as_collections_namedtuple(kind: Any, oracle: Any, values: tuple) -> None:
    ours, theirs = kind(*values), oracle(*values)
    assert ours == theirs == values and hash(ours) == hash(theirs)
    assert isinstance(ours, tuple) and tuple(ours) == values
    assert repr(ours) == repr(theirs)
    assert kind._fields == oracle._fields == kind.__match_args__
    assert kind._field_defaults == oracle._field_defaults
    assert ours._asdict() == theirs._asdict()
    for field in kind._fields:
        assert getattr(ours, field) == getattr(theirs, field)
    first = kind._fields[0]
    changed = ours._replace(**{first: "x"})
    assert type(changed) is kind and changed == theirs._replace(**{first: "x"})
    assert type(kind._make(values)) is kind and kind._make(values) == ours
    assert pickle.loads(pickle.dumps(ours)) == ours
    assert type(pickle.loads(pickle.dumps(ours))) is kind
    assert copy.copy(ours) == ours and copy.deepcopy(ours) == ours
    assert not hasattr(ours, "__dict__")
    with pytest.raises(AttributeError):
        setattr(ours, first, 1)


@pytest.mark.parametrize(("kind", "oracle", "values"), ORACLES)
def test_same_errors_as_collections_namedtuple(kind: Any, oracle: Any, values: tuple) -> None:
    with pytest.raises(TypeError):
        kind(*values, 1)
    with pytest.raises(TypeError):
        kind()
    with pytest.raises(TypeError, match="Expected"):
        kind._make(values[:-1])
    with pytest.raises(ValueError, match="unexpected field names"):
        kind(*values)._replace(nope=1)


def test_defaults_and_keywords() -> None:
    assert Quota(5, 1_000) == (5, 1_000, 1)
    assert Quota(limit=5, window_ms=1_000, cost=3).cost == 3
    assert Decision(True, 5, 4, 60, 0).degraded is False
    match Verdict(False, 0, 10, 10):
        case Verdict(allowed, remaining, _, retry):
            assert (allowed, remaining, retry) == (False, 0, 10)
