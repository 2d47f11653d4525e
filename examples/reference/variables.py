"""Reading the reference app's environment variables (CONTRACT.md)."""

from __future__ import annotations

from daloy_edge import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["entries", "naming"]


class _Naming:
    __slots__ = ("_names",)

    def __init__(self, names: str) -> None:
        self._names = names

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, ConfigError) and self._names not in str(exc):
            raise ConfigError(f"{self._names}: {exc}") from None


def naming(*variables: str) -> _Naming:
    """``with naming("DALOY_CORS_ORIGINS"): ...``: a :class:`~daloy_edge.ConfigError`
    raised inside is raised again with the variable in front.

    The toolkit's configurations speak of their own fields (``trusted origin``,
    ``allow_hosts``); the operator who must fix the deployment needs the variable.
    """
    return _Naming(" or ".join(variables))


def entries(value: str | None) -> tuple[str, ...]:
    """The entries of a comma-separated variable, without the whitespace around each
    (a secrets file's line break) and without empty ones (``"a,,b"``, a trailing comma)."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())
