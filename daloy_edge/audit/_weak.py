"""Is a secret strong enough? Length, well-known defaults and placeholder text."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal, TypeAlias

__all__ = ["MIN_DISTINCT_CHARS", "Weakness", "weakness"]

if TYPE_CHECKING:
    Weakness: TypeAlias = tuple[Literal["short", "weak"], str]
else:
    Weakness = tuple[str, str]  # ("short" or "weak", the reason); typing is not loaded

MIN_DISTINCT_CHARS = 6
"""Fewer distinct characters than this (``kkkk…``, ``abab…``) is not a random secret."""

_DEFAULTS = frozenset(
    {
        "admin",
        "administrator",
        "changeit",
        "changeme",
        "default",
        "guest",
        "hunter2",
        "letmein",
        "passw0rd",
        "password",
        "password1",
        "qwerty",
        "qwertyuiop",
        "root",
        "secret",
        "test",
        "welcome",
        "123456",
        "12345678",
        "123456789",
        "1234567890",
    }
)
_PLACEHOLDER_MARKERS = (
    "changeme",
    "change-me",
    "change_me",
    "changethis",
    "change-this",
    "replaceme",
    "replace-me",
    "replace_me",
    "your-secret",
    "your_secret",
    "yoursecret",
    "placeholder",
    "example",
    "insecure",
    "dummy",
    "notasecret",
    "not-a-secret",
)


def weakness(value: bytes, *, min_bytes: int) -> Weakness | None:
    """Why ``value`` is unfit as a secret (``("short" | "weak", reason)``), or None.

    The reason never quotes the value.

    >>> weakness(b"change-me-change-me-change-me-0001", min_bytes=32)
    ('weak', 'looks like a placeholder copied from an example')
    >>> weakness(b"s3cret", min_bytes=16)
    ('short', 'is 6 bytes long; at least 16 are needed')
    """
    if len(value) < min_bytes:
        return "short", f"is {len(value)} bytes long; at least {min_bytes} are needed"
    text = value.decode("latin-1").strip().lower()
    if text in _DEFAULTS:
        return "weak", "is a well-known default"
    if any(marker in text for marker in _PLACEHOLDER_MARKERS):
        return "weak", "looks like a placeholder copied from an example"
    if len(set(value)) < MIN_DISTINCT_CHARS:
        return "weak", "repeats too few distinct characters to be random"
    return None
