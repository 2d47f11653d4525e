"""The collection ABCs, for ``isinstance`` checks and subclassing at run time.

``collections.abc`` imports the whole ``collections`` package (about 2 ms of a cold start);
the classes live in ``_collections_abc``, which the interpreter has already loaded for
``os``. Annotations keep importing ``collections.abc`` under ``TYPE_CHECKING``.
"""

from __future__ import annotations

from _collections_abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
    Set,
)

__all__ = [
    "AsyncIterable",
    "AsyncIterator",
    "Awaitable",
    "Callable",
    "Collection",
    "Iterable",
    "Iterator",
    "Mapping",
    "MutableMapping",
    "Sequence",
    "Set",
]
