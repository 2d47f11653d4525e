"""Whether a field value is a Structured Field Dictionary (RFC 9651), checked at build time.

A recipient that fails to parse a structured field ignores the whole field (RFC 9651,
4.2), so a configured value is checked against the parsing algorithm before it is sent:
``is_dictionary("camera=(), geolocation=(self)")`` is True, the Feature-Policy syntax
``"camera 'none'"`` is not. Syntax only: what the members mean is the field's own matter.

>>> is_dictionary('a=1, b=?0, c=("x" y);p=*z, d'), is_dictionary("a=1,"), is_dictionary("A=1")
(True, False, False)
"""

from __future__ import annotations

from daloy_edge._charset import DIGITS, LOWER, TCHAR, UPPER

__all__ = ["is_dictionary"]

_KEY_START = frozenset(LOWER + "*")
_KEY = frozenset(LOWER + DIGITS + "_-.*")
_TOKEN_START = frozenset(LOWER + UPPER + "*")
_TOKEN = frozenset(TCHAR + ":/")
_BASE64 = frozenset(LOWER + UPPER + DIGITS + "+/=")
_HEX = frozenset(DIGITS + "abcdef")
_DIGITS = frozenset(DIGITS)


class _Invalid(Exception):
    """The text is no structured field of the kind asked for."""


def is_dictionary(text: str) -> bool:
    """Whether ``text`` parses as a Dictionary by RFC 9651's algorithm (4.2)."""
    try:
        end = len(text)
        at = _dictionary(text, _skip(text, 0, " "))
        return _skip(text, at, " ") == end
    except _Invalid:
        return False


def _skip(text: str, at: int, spaces: str) -> int:
    while at < len(text) and text[at] in spaces:
        at += 1
    return at


def _dictionary(text: str, at: int) -> int:
    while at < len(text):
        at = _key(text, at)
        # A key alone is Boolean true, with its parameters.
        at = _member_value(text, at + 1) if text[at : at + 1] == "=" else _parameters(text, at)
        at = _skip(text, at, " \t")
        if at == len(text):
            return at
        if text[at] != ",":
            raise _Invalid
        at = _skip(text, at + 1, " \t")
        if at == len(text):  # a trailing comma
            raise _Invalid
    return at


def _member_value(text: str, at: int) -> int:
    if text[at : at + 1] != "(":
        return _parameters(text, _bare_item(text, at))
    at += 1
    while True:
        at = _skip(text, at, " ")
        if text[at : at + 1] == ")":
            return _parameters(text, at + 1)
        at = _parameters(text, _bare_item(text, at))
        if text[at : at + 1] not in (" ", ")"):
            raise _Invalid


def _parameters(text: str, at: int) -> int:
    while text[at : at + 1] == ";":
        at = _key(text, _skip(text, at + 1, " "))
        if text[at : at + 1] == "=":
            at = _bare_item(text, at + 1)
    return at


def _key(text: str, at: int) -> int:
    if text[at : at + 1] not in _KEY_START:  # "" (the end) is no member either
        raise _Invalid
    at += 1
    while at < len(text) and text[at] in _KEY:
        at += 1
    return at


def _bare_item(text: str, at: int) -> int:
    first = text[at : at + 1]
    if first == "-" or first in _DIGITS:
        return _number(text, at)
    if first == '"':
        return _string(text, at + 1)
    if first in _TOKEN_START:
        return _run(text, at + 1, _TOKEN)
    if first == ":":
        return _byte_sequence(text, at + 1)
    if first == "?":
        if text[at + 1 : at + 2] not in ("0", "1"):
            raise _Invalid
        return at + 2
    if first == "@":
        return _number(text, at + 1, decimal=False)
    if first == "%" and text[at + 1 : at + 2] == '"':
        return _display_string(text, at + 2)
    raise _Invalid


def _run(text: str, at: int, chars: frozenset[str]) -> int:
    while at < len(text) and text[at] in chars:
        at += 1
    return at


def _number(text: str, at: int, *, decimal: bool = True) -> int:
    if text[at : at + 1] == "-":
        at += 1
    end = _run(text, at, _DIGITS)
    whole = end - at
    if whole == 0:
        raise _Invalid
    if decimal and text[end : end + 1] == ".":
        fraction = _run(text, end + 1, _DIGITS) - end - 1
        if whole > 12 or not 1 <= fraction <= 3:
            raise _Invalid
        return end + 1 + fraction
    if whole > 15:
        raise _Invalid
    return end


def _byte_sequence(text: str, at: int) -> int:
    end = _run(text, at, _BASE64)
    if text[end : end + 1] != ":":
        raise _Invalid
    # Base64 that decodes, with or without its "=" padding (RFC 9651, 4.2.7: a parser
    # should not fail for missing padding, and fails for what cannot be decoded).
    content = text[at:end]
    data = content.rstrip("=")
    if "=" in data or len(data) % 4 == 1 or (not data and content):
        raise _Invalid
    return end + 1


def _string(text: str, at: int) -> int:
    while at < len(text):
        char = text[at]
        if char == '"':
            return at + 1
        if char == "\\":
            if text[at + 1 : at + 2] not in ('"', "\\"):
                raise _Invalid
            at += 2
            continue
        if not " " <= char <= "~":
            raise _Invalid
        at += 1
    raise _Invalid


def _display_string(text: str, at: int) -> int:
    octets = bytearray()
    while at < len(text):
        char = text[at]
        if char == '"':
            try:
                octets.decode("utf-8")
            except UnicodeDecodeError:
                raise _Invalid from None
            return at + 1
        if char == "%":
            digits = text[at + 1 : at + 3]
            if len(digits) != 2 or not set(digits) <= _HEX:
                raise _Invalid
            octets.append(int(digits, 16))
            at += 3
            continue
        if not " " <= char <= "~":
            raise _Invalid
        octets.append(ord(char))
        at += 1
    raise _Invalid
