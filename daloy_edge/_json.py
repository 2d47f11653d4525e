"""Hardened JSON parsing: refuses what parsers disagree on or what attacks rely on."""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from daloy_edge.types import JSON

__all__ = ["MAX_JSON_DEPTH", "MAX_NUMBER_DIGITS", "UnsafeJSON", "dumps", "parse_json"]

MAX_JSON_DEPTH = 32
MAX_NUMBER_DIGITS = 4300
_FORBIDDEN_KEYS = frozenset({"__proto__", "constructor", "prototype"})


class UnsafeJSON(ValueError):
    """The document is not valid JSON, or uses a construct refused for safety."""


def _pairs(pairs: list[tuple[str, JSON]]) -> dict[str, JSON]:
    result: dict[str, JSON] = {}
    for key, value in pairs:
        if key in result:
            raise UnsafeJSON("duplicate object key")
        if key in _FORBIDDEN_KEYS:
            raise UnsafeJSON("prototype-pollution key")
        result[key] = value
    return result


def _check_digits(text: str) -> None:
    # Digits are what cost (and what CPython's int limit counts); a sign, point or
    # exponent marker is not one.
    if len(text) > MAX_NUMBER_DIGITS and sum(ch.isdigit() for ch in text) > MAX_NUMBER_DIGITS:
        raise UnsafeJSON("number too long")


def _int(text: str) -> int:
    _check_digits(text)
    return int(text)


def _float(text: str) -> float:
    _check_digits(text)
    return float(text)


def _constant(name: str) -> JSON:
    raise UnsafeJSON(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_int=_int, parse_float=_float, parse_constant=_constant
)


def _depth_exceeds(value: JSON, limit: int) -> bool:
    stack: list[tuple[JSON, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: list[JSON] = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> JSON:
    """Parse a JSON document strictly.

    Refused with :class:`UnsafeJSON`: invalid UTF-8, a byte-order mark, duplicate keys,
    ``__proto__``/``constructor``/``prototype`` keys, nesting deeper than ``max_depth``,
    numbers longer than 4300 characters, NaN and Infinity, trailing data.

    >>> parse_json(b'{"a": [1, 2]}')
    {'a': [1, 2]}
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsafeJSON("invalid UTF-8") from None
    else:
        text = data
    if text.startswith("\ufeff"):
        raise UnsafeJSON("byte-order mark")
    try:
        value: JSON = _DECODER.decode(text)
    except UnsafeJSON:
        raise
    except (ValueError, RecursionError):
        raise UnsafeJSON("malformed JSON") from None
    opened = text.count("[") + text.count("{")
    if opened > max_depth and _depth_exceeds(value, max_depth):
        raise UnsafeJSON("nesting too deep")
    return value


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _not_serializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _c_encoder() -> Callable[[object, int], Iterable[str]] | None:
    """CPython's C encoder, built once with ``_ENCODER``'s settings.

    ``JSONEncoder.encode`` builds a new one on every call. No circular-reference
    bookkeeping: a shared record would be touched by every thread at once, and a cycle
    still ends in an error (``RecursionError``).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    built: Callable[[object, int], Iterable[str]] = make(
        None, _not_serializable, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    return built


_C_ENCODER = _c_encoder()


def dumps(value: object) -> bytes:
    """Compact UTF-8 JSON; non-ASCII kept, ``<``, ``>`` and ``&`` escaped for HTML safety."""
    text = "".join(_C_ENCODER(value, 0)) if _C_ENCODER is not None else _ENCODER.encode(value)
    if "<" in text or ">" in text or "&" in text:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode("utf-8")
