"""``observability.encode``: the one-line JSON every record is written as."""

from __future__ import annotations

import math

import pytest

from daloy_edge.observability import encode


def test_encode_escapes_line_breaks_and_non_ascii() -> None:
    assert encode({"m": "a\nb\u2028é"}) == '{"m":"a\\nb\\u2028\\u00e9"}'


def test_encode_refuses_a_circular_record_with_value_error() -> None:
    record: dict[str, object] = {}
    record["self"] = record
    with pytest.raises(ValueError, match="Circular"):
        encode(record)  # type: ignore[arg-type]


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_encode_refuses_nan_and_infinities(number: float) -> None:
    with pytest.raises(ValueError):
        encode({"n": number})


def test_encode_refuses_values_json_lacks_with_type_error() -> None:
    with pytest.raises(TypeError):
        encode({"s": {1, 2}})  # type: ignore[dict-item]
