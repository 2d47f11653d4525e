"""Request-target sanitation: CRLF, NUL, traversal and backslash rejection."""

from __future__ import annotations

from _codecs import escape_decode  # codecs' own C module, loaded with the interpreter

from daloy_edge._charset import ALNUM, allowed, has_control
from daloy_edge._lazy import LazyPattern

__all__ = ["PLAIN_PATH", "UnsafePath", "check_header_value", "check_path", "percent_decode"]

_MAX_DECODE_ROUNDS = 4
# Plain ASCII paths without escapes, backslashes or dot-led segments need no decoding.
# Checked with ``_charset``'s expression written out, as every request runs it; only
# escaped or non-ASCII paths compile (and import ``re`` for) the patterns below.
PLAIN_PATH = allowed(ALNUM + "/_-~!$&'()*+,;=:@.")
_BAD_ESCAPE = LazyPattern(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = LazyPattern("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_ESCAPES = LazyPattern("(?:%[0-9A-Fa-f]{2})+")


def percent_decode(text: str, errors: str = "replace") -> str:
    """Decode ``%XX`` escapes as UTF-8 (a run of escapes is one byte string); anything
    else, a stray ``%`` included, stays as it is. ``errors`` as for ``bytes.decode``.

    >>> percent_decode("/caf%C3%A9%20menu%zz")
    '/café menu%zz'
    """
    if "%" not in text:
        return text
    if _BAD_ESCAPE.search(text) is not None:
        text = _BAD_ESCAPE.sub("%25", text)  # a stray "%" as the escape of itself
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (an event's JSON can hold one) stays
        return _ESCAPES.sub(
            lambda run: bytes.fromhex(run.group(0).replace("%", "")).decode("utf-8", errors), text
        )
    # Each escape written as Python's ``\xNN`` and all of them unescaped in one C pass:
    # decoded one Python call at a time, the escapes of a 1 MiB form took 0.3 s.
    # Characters between escapes are whole UTF-8 sequences, so decoding the bytes at once
    # is decoding each run of escapes on its own.
    unescaped = escape_decode(data.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
    return unescaped.decode("utf-8", errors)


class UnsafePath(ValueError):
    """The path could be read differently by different layers; refused."""


def _check_segments(text: str) -> None:
    if "\\" in text:
        raise UnsafePath("backslash in path")
    ascii_text = text.isascii()
    # In ASCII text (a dot-led segment, say) C0 and DEL are the only characters of the
    # class, so only non-ASCII text needs the regex.
    control = has_control(text) if ascii_text else _CONTROL.search(text) is not None
    if control:
        raise UnsafePath("control character in path")
    if "." not in text and ascii_text:
        return
    if not ascii_text:
        # A layer that folds compatibility characters (NFKC), which the dot segments
        # below are read for, also reads U+FF0F as "/" and U+FE68 and U+FF3C as "\\":
        # "..\uff0fsecure_app.py", one segment here, is "../secure_app.py" to it.
        if "\uff3c" in text or "\ufe68" in text:
            raise UnsafePath("backslash in path")
        text = text.replace("\uff0f", "/")
    for segment in text.split("/"):
        bare = segment.split(";", 1)[0]
        dots = bare.strip() in (".", "..") if bare.isascii() else _folds_to_dots(bare)
        if dots:
            raise UnsafePath("dot segment in path")


def _folds_to_dots(segment: str) -> bool:
    """Whether NFKC makes ``segment`` "." or ".." with whitespace around it.

    Only when each character decomposes to dots and whitespace alone (composing never
    gives either), so a segment is ruled out at the first character that does not and
    is never normalised whole: NFKC reorders a run of combining marks in quadratic time
    (an 8 KB path of them took 3 ms, and a larger path limit far more).
    """
    import unicodedata

    for char in segment:
        if unicodedata.normalize("NFKD", char).replace(".", "").strip():
            return False
    return unicodedata.normalize("NFKC", segment).strip() in (".", "..")


def check_path(raw_path: str) -> str:
    """Return the decoded path when ``raw_path`` is safe, else raise :class:`UnsafePath`.

    ``raw_path`` is the request target's path as sent (percent-encoded). Each decoding
    round is checked, so double-encoded ``%252e%252e`` is refused as firmly as ``..``.

    >>> check_path("/static/a%20b.txt")
    '/static/a b.txt'
    """
    if (
        raw_path[:1] == "/"
        and raw_path.isascii()
        and raw_path.encode().translate(PLAIN_PATH).isalnum()
        and "/." not in raw_path
    ):
        return raw_path
    if not raw_path.startswith("/"):
        raise UnsafePath("path must start with /")
    if "%" in raw_path and _BAD_ESCAPE.search(raw_path):
        raise UnsafePath("malformed percent-escape in path")
    current = raw_path
    _check_segments(current)
    decoded = current
    for _ in range(_MAX_DECODE_ROUNDS):
        try:
            decoded = percent_decode(current, errors="strict")
        except UnicodeDecodeError:
            raise UnsafePath("invalid UTF-8 in path") from None
        _check_segments(decoded)
        if decoded == current or "%" not in decoded:
            break
        current = decoded
    return percent_decode(raw_path, errors="strict")


def check_header_value(value: str) -> bool:
    """True when a header value carries no CR, LF or NUL."""
    return "\r" not in value and "\n" not in value and "\x00" not in value
