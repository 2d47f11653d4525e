"""Packages whose public names load their modules on first access.

A package's ``__init__`` that imports every submodule makes whoever needs one name pay for
all of them at import, which is cold-start time on a serverless runtime.

>>> __getattr__, __dir__ = lazy_exports("json", {"JSONDecoder": "decoder"}, {})
>>> __getattr__("JSONDecoder").__module__
'json.decoder'
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, homes: Mapping[str, str], namespace: dict[str, object]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` for ``package``.

    ``homes`` maps each public name to the module that defines it: relative to
    ``package`` (``"_jwk"``) or absolute when it contains a dot. A name is imported the
    first time it is asked for and then kept in ``namespace`` (the package's globals), so
    later lookups never reach ``__getattr__``.
    """

    def __getattr__(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        from importlib import import_module

        value = getattr(import_module(home if "." in home else f"{package}.{home}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        exported = namespace.get("__all__", ())
        return sorted({*namespace, *(exported if isinstance(exported, list) else ())})

    return __getattr__, __dir__
