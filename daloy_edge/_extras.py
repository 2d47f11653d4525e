"""The error for a feature used without the optional dependencies (extra) it needs.

The core requires nothing; JWT verification, outbound HTTP and the rest import their
libraries on first use. Without them that import failed deep inside with a bare
``No module named 'jwt'``, which says neither that an extra is missing nor which one.
"""

from __future__ import annotations

__all__ = ["install_hint", "missing_extra"]


def install_hint(extra: str) -> str:
    """The command that installs ``extra``."""
    return f"pip install 'daloy-edge[{extra}]'"


def missing_extra(feature: str, extra: str) -> ModuleNotFoundError:
    """The error to raise (``from`` the failed import) when ``feature`` needs ``extra``."""
    return ModuleNotFoundError(f"{feature} needs the {extra!r} extra: {install_hint(extra)}")
