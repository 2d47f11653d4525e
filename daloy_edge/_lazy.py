"""Packages whose public names load their modules on first access.

A package's ``__init__`` that imports every submodule makes whoever needs one name pay for
all of them at import, which is cold-start time on a serverless runtime.

>>> __getattr__, __dir__ = lazy_exports("json", {"JSONDecoder": "decoder"}, {})
>>> __getattr__("JSONDecoder").__module__
'json.decoder'
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from re import Match, Pattern

__all__ = ["LazyPattern", "lazy_exports"]


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
        module = home if "." in home else f"{package}.{home}"
        # ``__import__`` rather than ``importlib.import_module``: ``importlib`` itself
        # would be one more import on the cold path.
        __import__(module)
        value = getattr(sys.modules[module], name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        exported = namespace.get("__all__", ())
        return sorted({*namespace, *(exported if isinstance(exported, list) else ())})

    return __getattr__, __dir__


class LazyPattern:
    """A regular expression compiled, with ``re`` imported, the first time it is used.

    For patterns off the common path (rare inputs, configuration forms few apps use):
    ``re`` and what it imports cost several ms of a cold start.

    >>> LazyPattern(r"[0-9]+").fullmatch("42") is not None
    True
    """

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.source = source
        self.flags = flags
        self._compiled: Pattern[str] | None = None

    @property
    def compiled(self) -> Pattern[str]:
        """The compiled pattern."""
        compiled = self._compiled
        if compiled is None:
            import re

            compiled = self._compiled = re.compile(self.source, self.flags)
        return compiled

    def match(self, text: str) -> Match[str] | None:
        """As ``re.Pattern.match``."""
        return self.compiled.match(text)

    def fullmatch(self, text: str) -> Match[str] | None:
        """As ``re.Pattern.fullmatch``."""
        return self.compiled.fullmatch(text)

    def search(self, text: str) -> Match[str] | None:
        """As ``re.Pattern.search``."""
        return self.compiled.search(text)

    def sub(self, repl: str | Callable[[Match[str]], str], text: str, count: int = 0) -> str:
        """As ``re.Pattern.sub``."""
        return self.compiled.sub(repl, text, count)
