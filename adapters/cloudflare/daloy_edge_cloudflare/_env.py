"""Worker ``env`` bindings as the ``Mapping[str, str]`` an app is configured from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from daloy_edge_cloudflare._js import is_null

__all__ = ["WorkerEnv"]


class WorkerEnv(Mapping[str, str]):
    """The string bindings of a Worker's ``env`` (``[vars]`` and secrets), read once.

    A number or boolean in ``[vars]`` (``DALOY_MAX_BODY_BYTES = 65536`` in TOML arrives
    as a JSON value, not text) is kept as its JSON text, as every other runtime's
    environment holds it. Other bindings (KV, D1, service bindings, JSON objects, ...)
    are left out of the mapping; :meth:`binding` returns them.

    >>> # in a Worker: create_app(WorkerEnv(self.env))
    """

    __slots__ = ("_raw", "_values")

    def __init__(self, env: object) -> None:
        # The workers SDK wraps env for its own binding helpers; the raw JS object is
        # what can be enumerated.
        raw: Any = getattr(env, "_env", env)
        self._raw = raw
        self._values: dict[str, str] = {}
        if raw is None:
            return
        pairs: Iterable[tuple[str, object]]
        if isinstance(raw, Mapping):
            pairs = raw.items()
        else:
            from js import Object

            pairs = ((str(name), getattr(raw, str(name), None)) for name in Object.keys(raw))
        for name, value in pairs:
            text = _as_text(value)
            if text is not None:
                self._values[name] = text

    def binding(self, name: str) -> object:
        """A binding of any kind by name (raises :class:`KeyError` when absent)."""
        raw = self._raw
        value = raw.get(name) if isinstance(raw, Mapping) else getattr(raw, name, None)
        if is_null(value):
            raise KeyError(name)
        return value

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        # Secrets live here: show names only.
        return f"WorkerEnv({sorted(self._values)!r})"


def _as_text(value: object) -> str | None:
    """A binding's value as environment text: strings as they are, JSON numbers and
    booleans as their JSON text; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return None
