"""Reading the request: query parameters."""

from __future__ import annotations

import pytest

from daloy_edge import BadRequest
from daloy_edge._request import QueryParams

FIELDS = "&".join(f"k{i}=v" for i in range(1000))


def test_a_thousand_fields_and_a_trailing_ampersand_are_read() -> None:
    assert len(QueryParams(FIELDS + "&")) == 1000


def test_empty_fields_between_ampersands_do_not_count_toward_the_bound() -> None:
    query = "&&".join(f"k{i}=v" for i in range(600))
    assert len(QueryParams(query)) == 600


def test_a_thousand_and_one_fields_are_refused() -> None:
    with pytest.raises(BadRequest):
        QueryParams(FIELDS + "&k=v")
