"""The public ways to add a field to a :class:`~daloy_edge.Headers`, each checked."""

from __future__ import annotations

import pytest

EACH_MUTATOR = pytest.mark.parametrize(
    "mutate",
    [
        lambda h, name, value: h.__setitem__(name, value),
        lambda h, name, value: h.add(name, value),
        lambda h, name, value: h.setdefault(name, value),
    ],
    ids=["setitem", "add", "setdefault"],
)
"""Parametrises ``mutate(headers, name, value)`` over ``h[name] = value``, ``add`` and
``setdefault``."""
