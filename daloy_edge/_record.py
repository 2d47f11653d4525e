"""Small value classes without importing :mod:`dataclasses`.

``dataclasses`` imports :mod:`inspect` (and with it ``ast``, ``dis`` and ``tokenize``),
which is a large share of a cold start on a serverless runtime. :func:`record` writes
the few methods daloy_edge's configuration and value classes need: a keyword-friendly
``__init__`` (calling ``__post_init__`` when defined), ``__repr__``, ``__eq__``,
``__hash__`` and refused assignment for frozen records, ``__slots__`` for the others.
Annotations stay strings (``from __future__ import annotations``); nothing evaluates them.

A frozen record is the class as written, with the methods added: no ``__slots__``, which
would mean building the class a second time, and building a class is most of what a
record costs on a cold start (the configuration classes are nearly all frozen). Its
instances cannot be assigned to anyway. A mutable record is rebuilt with ``__slots__``,
so a misspelt attribute is an error rather than a new attribute.

>>> @record(frozen=True)
... class Point:
...     x: int
...     y: int = 0
>>> Point(1)
Point(x=1, y=0)
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_: object) -> Callable[[T], T]:
        return lambda decorated: decorated


__all__ = ["FrozenInstanceError", "field", "fields", "record"]


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """How one field is initialised and shown (what :func:`field` returns)."""

    __slots__ = ("default", "factory", "init", "name", "repr")

    def __init__(self, default: Any, factory: Any, init: bool, repr: bool) -> None:
        self.name = ""
        self.default = default
        self.factory = factory
        self.init = init
        self.repr = repr


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | None = None,
    init: bool = True,
    repr: bool = True,
) -> Any:
    """A field with a factory for mutable defaults, or left out of ``__init__``/``repr``."""
    return Field(default, default_factory, init, repr)


def fields(obj: object) -> tuple[Field, ...]:
    """The fields of a record class or instance, in declaration order."""
    found: tuple[Field, ...] = getattr(obj, "__record_fields__", ())
    return found


def _own_fields(cls: type) -> list[Field]:
    own: list[Field] = []
    # ``inspect.get_annotations`` would import ``inspect``, the module this one avoids.
    annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    for name, annotation in annotations.items():
        if isinstance(annotation, str) and annotation.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, MISSING)
        spec = value if isinstance(value, Field) else Field(value, None, True, True)
        spec.name = name
        own.append(spec)
    return own


def _init_source(all_fields: tuple[Field, ...], frozen: bool, kw_only: bool, post: bool) -> str:
    params: list[str] = []
    body: list[str] = []
    assign = "_set(self, {0!r}, {1})" if frozen else "self.{0} = {1}"
    for f in all_fields:
        if f.init:
            if f.factory is not None:
                params.append(f"{f.name}=_MISSING")
                value = f"_factory_{f.name}() if {f.name} is _MISSING else {f.name}"
            elif f.default is not MISSING:
                params.append(f"{f.name}=_default_{f.name}")
                value = f.name
            else:
                params.append(f.name)
                value = f.name
        elif f.factory is not None:
            value = f"_factory_{f.name}()"
        elif f.default is not MISSING:
            value = f"_default_{f.name}"
        else:
            continue
        body.append(assign.format(f.name, value))
    if post:
        body.append("self.__post_init__()")
    star = ["*"] if kw_only and params else []
    signature = ", ".join(["self", *star, *params])
    lines = "\n".join(f"    {line}" for line in body or ["pass"])
    return f"def __init__({signature}):\n{lines}\n"


def _check_order(all_fields: tuple[Field, ...], kw_only: bool, name: str) -> None:
    if kw_only:
        return
    seen_default = False
    for f in all_fields:
        if not f.init:
            continue
        has_default = f.factory is not None or f.default is not MISSING
        if seen_default and not has_default:
            raise TypeError(f"{name}: non-default field {f.name!r} follows a default one")
        seen_default = seen_default or has_default


def _compile_init(
    all_fields: tuple[Field, ...], frozen: bool, kw_only: bool, post: bool, qualname: str
) -> Any:
    namespace: dict[str, Any] = {"_MISSING": MISSING, "_set": object.__setattr__}
    for f in all_fields:
        namespace[f"_default_{f.name}"] = f.default
        namespace[f"_factory_{f.name}"] = f.factory
    source = _init_source(all_fields, frozen, kw_only, post)
    # Only field names the class itself declares reach the source; no input does.
    exec(source, namespace)  # noqa: S102  # verify: allow unsafe-deserialization, bandit -- field names only
    init = namespace["__init__"]
    init.__qualname__ = f"{qualname}.__init__"
    return init


_COMPILE_AFTER = 16
"""Instances built through the generic ``__init__`` before a class gets a compiled one."""


def _lazy_init(cls: type, all_fields: tuple[Field, ...], frozen: bool, kw_only: bool) -> Any:
    """A generic ``__init__`` that hands over to a compiled one once the class is built
    often: configuration records (built a few times, at start-up) never pay for the
    compilation, which is most of a record's cost on a cold start, and records built on
    every request soon run the compiled ``__init__``."""
    post = hasattr(cls, "__post_init__")
    qualname = cls.__qualname__
    init_fields = tuple(f for f in all_fields if f.init)
    accepted = frozenset(f.name for f in init_fields)
    positional = 0 if kw_only else len(init_fields)
    assign = object.__setattr__ if frozen else setattr
    built = 0

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal built
        built += 1
        if built > _COMPILE_AFTER:
            owner = next(k for k in type(self).__mro__ if k.__dict__.get("__init__") is __init__)
            init = _compile_init(all_fields, frozen, kw_only, post, qualname)
            owner.__init__ = init  # type: ignore[misc]
            init(self, *args, **kwargs)
            return
        if len(args) > positional:
            raise TypeError(f"{qualname}() takes {positional} positional arguments")
        given = dict(zip((f.name for f in init_fields), args, strict=False))
        for name, value in kwargs.items():
            if name not in accepted:
                raise TypeError(f"{qualname}() got an unexpected keyword argument {name!r}")
            if name in given:
                raise TypeError(f"{qualname}() got multiple values for argument {name!r}")
            given[name] = value
        for f in all_fields:
            if f.init and f.name in given:
                value = given[f.name]
            elif f.factory is not None:
                value = f.factory()
            elif f.default is not MISSING:
                value = f.default
            elif f.init:
                raise TypeError(f"{qualname}() missing required argument {f.name!r}")
            else:
                continue
            assign(self, f.name, value)
        if post:
            self.__post_init__()

    __init__.__qualname__ = f"{qualname}.__init__"
    return __init__


# The methods every record shares: they read the field names from the class
# (``__record_names__``, ``__record_shown__``), so making a record class creates no
# functions beyond its ``__init__``.


def _repr(self: Any) -> str:
    parts = ", ".join(f"{n}={getattr(self, n, MISSING)!r}" for n in self.__record_shown__)
    return f"{type(self).__qualname__}({parts})"


def _eq(self: Any, other: Any) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented  # type: ignore[no-any-return]
    return all(getattr(self, n) == getattr(other, n) for n in self.__record_names__)


def _frozen_setattr(self: Any, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, n) for n in self.__record_names__))


def _getstate(self: Any) -> tuple[object, ...]:
    return tuple(getattr(self, n, MISSING) for n in self.__record_names__)


def _setstate(self: Any, state: tuple[object, ...]) -> None:
    for n, value in zip(self.__record_names__, state, strict=True):
        if value is not MISSING:
            object.__setattr__(self, n, value)


_FROZEN_METHODS = {
    "__setattr__": _frozen_setattr,
    "__delattr__": _frozen_delattr,
    "__hash__": _hash,
    "__getstate__": _getstate,
    "__setstate__": _setstate,
}


def _methods(
    cls: type, all_fields: tuple[Field, ...], frozen: bool, kw_only: bool
) -> dict[str, Any]:
    _check_order(all_fields, kw_only, cls.__name__)
    methods: dict[str, Any] = {
        "__init__": _lazy_init(cls, all_fields, frozen, kw_only),
        "__repr__": _repr,
        "__eq__": _eq,
        "__record_names__": tuple(f.name for f in all_fields),
        "__record_shown__": tuple(f.name for f in all_fields if f.repr),
    }
    if frozen:
        methods.update(_FROZEN_METHODS)
    else:
        methods["__hash__"] = None
    return methods


def _frozen_in_place(
    cls: type[T], own_names: set[str], all_fields: tuple[Field, ...], kw_only: bool
) -> type[T]:
    # The defaults move into ``__init__``; the class keeps no field attributes.
    for name in own_names & cls.__dict__.keys():
        delattr(cls, name)
    for name, value in _methods(cls, all_fields, True, kw_only).items():
        if name in ("__repr__", "__eq__") and name in cls.__dict__:
            continue  # the class's own
        setattr(cls, name, value)
    cls.__record_fields__ = all_fields  # type: ignore[attr-defined]
    return cls


@dataclass_transform(field_specifiers=(field,))
def record(cls: type[T] | None = None, /, *, frozen: bool = False, kw_only: bool = False) -> Any:
    """Turn a class with annotated fields into a value class (see the module doc)."""

    def wrap(cls: type[T]) -> type[T]:
        inherited = fields(cls)
        own = _own_fields(cls)
        own_names = {f.name for f in own}
        all_fields = (*(f for f in inherited if f.name not in own_names), *own)
        if frozen:
            return _frozen_in_place(cls, own_names, all_fields, kw_only)
        namespace = {
            k: v
            for k, v in cls.__dict__.items()
            if k not in own_names and k not in ("__dict__", "__weakref__")
        }
        taken = {f.name for f in inherited}
        for base in cls.__mro__[1:]:
            taken.update(base.__dict__.get("__slots__", ()))
        namespace["__slots__"] = tuple(f.name for f in own if f.name not in taken)
        namespace["__record_fields__"] = all_fields
        namespace.update(_methods(cls, all_fields, frozen, kw_only))
        for name in ("__repr__", "__eq__", "__hash__"):
            if name in cls.__dict__ and name != "__hash__":
                namespace[name] = cls.__dict__[name]
        metaclass: Any = type(cls)
        made: type[T] = metaclass(cls.__name__, cls.__bases__, namespace)
        made.__qualname__ = cls.__qualname__
        return made

    return wrap if cls is None else wrap(cls)
