"""``record``: the value classes daloy_edge uses instead of ``dataclasses``."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from daloy_edge._record import _COMPILE_AFTER, FrozenInstanceError, field, fields, record


@record(frozen=True, kw_only=True)
class Config:
    name: str
    retries: int = 3
    tags: list[str] = field(default_factory=list)
    secret: str = field(default="", repr=False)


@record
class Counter:
    count: int = 0


@record(frozen=True)
class Derived:
    raw: str
    upper: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "upper", self.raw.upper())


@record(frozen=True)
class Child(Derived):
    extra: int = 1


def test_init_defaults_factories_and_keyword_only() -> None:
    a, b = Config(name="a"), Config(name="b")
    assert (a.name, a.retries, a.tags) == ("a", 3, [])
    a.tags.append("x")
    assert b.tags == []  # a fresh list per instance
    with pytest.raises(TypeError):
        Config("a")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Config()  # type: ignore[call-arg]


def test_repr_hides_fields_marked_so() -> None:
    assert repr(Config(name="a", secret="hunter2")) == "Config(name='a', retries=3, tags=[])"


def test_frozen_refuses_assignment_and_hashes_by_value() -> None:
    c = Config(name="a", tags=[])
    with pytest.raises(FrozenInstanceError):
        c.name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del c.retries
    assert Derived("x") == Derived("x") and Derived("x") != Derived("y")
    assert hash(Derived("x")) == hash(Derived("x"))
    assert Derived("x") != object()


def test_mutable_records_assign_and_are_unhashable() -> None:
    c = Counter()
    c.count += 1
    assert c == Counter(1)
    with pytest.raises(TypeError):
        hash(c)


def test_slots_only() -> None:
    c = Counter()
    with pytest.raises(AttributeError):
        c.other = 1  # type: ignore[attr-defined]
    assert not hasattr(c, "__dict__")


def test_post_init_and_inheritance() -> None:
    child = Child("ab", 5)
    assert (child.raw, child.upper, child.extra) == ("ab", "AB", 5)
    assert [f.name for f in fields(child)] == ["raw", "upper", "extra"]
    assert repr(child) == "Child(raw='ab', upper='AB', extra=5)"


def test_copy_and_pickle_frozen_records() -> None:
    c = Config(name="a", tags=["t"])
    assert copy.deepcopy(c) == c
    assert pickle.loads(pickle.dumps(Derived("q"))) == Derived("q")


def test_field_order_is_checked() -> None:
    with pytest.raises(TypeError, match="follows a default"):

        @record
        class Bad:
            a: int = 1
            b: int  # type: ignore[misc]


def test_the_module_loads_neither_dataclasses_nor_typing() -> None:
    path = Path(record.__code__.co_filename)
    code = (
        f"import sys; exec(compile(open({str(path)!r}).read(), 'r', 'exec'), {{'__name__': 'r'}}); "
        "print(sorted({'dataclasses', 'typing', 'inspect'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_init_is_compiled_on_the_first_instance_only() -> None:
    @record(frozen=True)
    class Lazy:
        a: int
        b: int = 2

    generic = Lazy.__dict__["__init__"]
    for n in range(_COMPILE_AFTER // 2):
        assert Lazy(n) == Lazy(a=n, b=2)
    assert Lazy.__dict__["__init__"] is generic
    assert Lazy(1, 3) == Lazy(a=1, b=3)
    compiled = Lazy.__dict__["__init__"]
    assert compiled is not generic
    assert Lazy(4).b == 2
    assert Lazy.__dict__["__init__"] is compiled


@pytest.mark.parametrize("warm", [False, True], ids=["generic-init", "compiled-init"])
def test_both_inits_refuse_the_same_calls(warm: bool) -> None:
    @record(frozen=True, kw_only=True)
    class Opts:
        name: str
        size: int = 1
        tags: list[str] = field(default_factory=list)

    if warm:
        for _ in range(_COMPILE_AFTER + 1):
            Opts(name="x")
    assert Opts(name="a", size=2) == Opts(size=2, name="a")
    assert Opts(name="a").tags is not Opts(name="a").tags
    bad_calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        (("a",), {}),
        ((), {}),
        ((), {"name": "a", "nope": 1}),
    ]
    for bad_args, bad_kwargs in bad_calls:
        with pytest.raises(TypeError):
            Opts(*bad_args, **bad_kwargs)


def test_a_plain_subclass_built_first_compiles_the_record_init() -> None:
    @record
    class Base:
        a: int

    class Plain(Base):
        def __init__(self, a: int) -> None:
            super().__init__(a * 2)

    assert Plain(2).a == 4
    assert Base(5).a == 5
    assert "__init__" not in Plain.__dict__ or Plain.__dict__["__init__"] is not Base.__init__


def test_a_frozen_record_is_the_class_itself_with_its_fields_moved_into_init() -> None:
    class Plain:
        size: int = 4
        tags: tuple[str, ...] = field(default_factory=tuple)

        def __repr__(self) -> str:
            return "custom"

    made = record(frozen=True)(Plain)
    assert made is Plain  # not built a second time
    assert "size" not in Plain.__dict__ and "tags" not in Plain.__dict__
    one, other = made(), made(size=4)
    assert (one.size, one.tags) == (4, ()) and one == other and hash(one) == hash(other)
    assert repr(one) == "custom"  # the class's own kept
    with pytest.raises(FrozenInstanceError):
        one.size = 5  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        one.other = 1  # type: ignore[attr-defined]
    with pytest.raises(FrozenInstanceError):
        del one.size  # type: ignore[misc]


def test_a_mutable_record_is_rebuilt_with_slots() -> None:
    class Plain:
        size: int = 4

    made = record(Plain)
    assert made is not Plain
    assert made.__slots__ == ("size",)  # type: ignore[attr-defined]
