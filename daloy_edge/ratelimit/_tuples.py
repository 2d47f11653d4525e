"""Named tuples without importing :mod:`collections`.

``collections`` (with ``keyword``, ``operator`` and ``reprlib`` behind it) is a visible
share of a serverless cold start, and the rate limiter's result types are defined when
an app with a rate limit is built. :func:`named_tuple` turns a tuple subclass whose
``__new__`` names the fields into what ``collections.namedtuple`` builds: C field
getters, ``_fields``, ``_field_defaults``, ``__match_args__``, the same ``repr``,
``_make``, ``_replace``, ``_asdict`` and pickling. The ``__new__`` is ordinary source
(no ``exec``), so building the class compiles nothing.

>>> @named_tuple
... class Point(tuple):
...     __slots__ = ()
...     def __new__(cls, x, y=0):
...         return tuple_new(cls, (x, y))
>>> Point(1), Point(1, 2).y, Point(1) == (1, 0)
(Point(x=1, y=0), 2, True)
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, TypeVar

    T = TypeVar("T", bound=type[tuple[Any, ...]])

    def _tuplegetter(index: int, doc: str) -> Any: ...

else:
    # The C field getter ``collections.namedtuple`` itself uses; ``_collections`` is
    # built into the interpreter (and has no type stubs).
    from _collections import _tuplegetter

__all__ = ["named_tuple", "tuple_new"]

tuple_new = tuple.__new__
"""``tuple.__new__``, bound once: what each ``__new__`` calls to build the tuple."""


def named_tuple(cls: T) -> T:
    """Complete ``cls`` as a named tuple whose fields are its ``__new__``'s parameters."""
    code = cls.__new__.__code__
    fields: tuple[str, ...] = code.co_varnames[1 : code.co_argcount]
    defaults = cls.__new__.__defaults__ or ()

    def __repr__(self: tuple[Any, ...]) -> str:
        shown = ", ".join(f"{field}={value!r}" for field, value in zip(fields, self, strict=True))
        return f"{type(self).__name__}({shown})"

    def _make(kind: type[Any], iterable: Iterable[Any]) -> Any:
        result = tuple_new(kind, iterable)
        if len(result) != len(fields):
            raise TypeError(f"Expected {len(fields)} arguments, got {len(result)}")
        return result

    def _replace(self: tuple[Any, ...], /, **changes: Any) -> Any:
        result = _make(type(self), map(changes.pop, fields, self))
        if changes:
            raise ValueError(f"Got unexpected field names: {list(changes)!r}")
        return result

    def _asdict(self: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(fields, self, strict=True))

    def __getnewargs__(self: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(self)

    members: dict[str, Any] = {
        "_fields": fields,
        "_field_defaults": dict(zip(fields[len(fields) - len(defaults) :], defaults, strict=True)),
        "__match_args__": fields,
        "__repr__": __repr__,
        "_make": classmethod(_make),
        "_replace": _replace,
        "_asdict": _asdict,
        "__getnewargs__": __getnewargs__,
    }
    for index, field in enumerate(fields):
        members[field] = _tuplegetter(index, f"Alias for field number {index}")
    for key, value in members.items():
        setattr(cls, key, value)
    for method in ("__repr__", "_replace", "_asdict", "__getnewargs__"):
        function = members[method]
        function.__qualname__ = f"{cls.__qualname__}.{method}"
    return cls
