"""Whole-string character checks that run in C without ``re``.

Most validators here are "one to n characters from this set". ``bytes.translate`` with a
delete set answers that in one C pass; importing ``re`` (with ``enum``, ``functools`` and
``collections`` behind it) costs several ms of a serverless cold start.

>>> token = Charset(ALNUM + "-_", max_len=8)
>>> token.fullmatch("abc-1"), token.fullmatch(""), token.fullmatch("abc\\n")
(True, False, False)
"""

from __future__ import annotations

__all__ = [
    "ALNUM",
    "DIGITS",
    "HEXDIGITS",
    "LOWER",
    "TCHAR",
    "UPPER",
    "Charset",
    "has_control",
    "span",
]

DIGITS = "0123456789"
LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER = LOWER.upper()
ALNUM = DIGITS + LOWER + UPPER
HEXDIGITS = DIGITS + "abcdefABCDEF"
TCHAR = "!#$%&'*+-.^_`|~" + ALNUM
"""RFC 9110 token characters (header names, methods, cookie names)."""


def span(first: str, last: str) -> str:
    """The characters from ``first`` to ``last``, both included: ``span("a", "c") == "abc"``."""
    return "".join(chr(code) for code in range(ord(first), ord(last) + 1))


class Charset:
    """Strings of ``min_len`` to ``max_len`` characters, each one of ``chars`` (ASCII)."""

    __slots__ = ("_delete", "max_len", "min_len")

    def __init__(self, chars: str, *, min_len: int = 1, max_len: int | None = None) -> None:
        if not chars.isascii():
            raise ValueError("a Charset holds ASCII characters only")
        self._delete = chars.encode("ascii")
        self.min_len = min_len
        self.max_len = max_len

    def fullmatch(self, text: str) -> bool:
        """True when the whole of ``text`` is allowed (unlike ``re``'s ``$``, a trailing
        newline is not)."""
        size = len(text)
        if size < self.min_len or (self.max_len is not None and size > self.max_len):
            return False
        return text.isascii() and not text.encode("ascii").translate(None, self._delete)


_C0_AND_DEL = (span("\x00", "\x1f") + "\x7f").encode("ascii")
_C0_AND_DEL_BUT_TAB = _C0_AND_DEL.replace(b"\t", b"")


def has_control(text: str, *, allow_tab: bool = False) -> bool:
    """True when ``text`` holds a C0 control character or DEL (tab passes when allowed).

    UTF-8 encodes every other character with bytes of 0x80 and above, so the encoded
    text holds one of those bytes exactly when the text holds the character.
    """
    encoded = text.encode("utf-8", "surrogatepass")
    bad = _C0_AND_DEL_BUT_TAB if allow_tab else _C0_AND_DEL
    return len(encoded.translate(None, bad)) != len(encoded)
