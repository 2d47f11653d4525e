"""Whole-string "only these ASCII characters" checks for every request, without ``re``.

With ``table = allowed(chars)``, ``text.isascii() and text.encode().translate(table)
.isalnum()`` is True exactly when ``text`` is one or more of ``chars``: the table maps
each of them to ``a`` and every other byte to a space, and ``isalnum`` is False for an
empty string. Three C calls and no Python frame beat a compiled regex at every length
(about 75 ns against 120 ns for ``/health``, 235 ns against 375 ns for 200 characters).
:meth:`Charset.fullmatch <daloy_edge._charset.Charset.fullmatch>`, a Python method over
more calls, takes about 215 ns for short strings, so the per-request checks write the
expression out; :func:`only` is the same check behind one call, for the rest.

>>> table = allowed("abc")
>>> [t.isascii() and t.encode().translate(table).isalnum() for t in ("cab", "", "ab\\n")]
[True, False, False]
>>> only("cab", table), only("é", table)
(True, False)
"""

from __future__ import annotations

__all__ = ["allowed", "only"]


def allowed(chars: str) -> bytes:
    """A ``bytes.translate`` table: ``chars`` (ASCII) to ``a``, every other byte to a space."""
    if not chars.isascii():
        raise ValueError("allowed characters are ASCII only")
    return bytes(0x61 if chr(code) in chars else 0x20 for code in range(256))


def only(text: str, table: bytes) -> bool:
    """True when ``text`` is one or more of the characters ``table`` allows."""
    return text.isascii() and text.encode().translate(table).isalnum()
