"""Hardened JSON parsing: refuses what parsers disagree on or what attacks rely on."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from json import JSONDecoder
    from re import Pattern

    from daloy_edge.types import JSON

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_NUMBER_DIGITS",
    "UnsafeJSON",
    "dumps",
    "encode_ascii",
    "parse_json",
    "string_ascii",
]

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
    value = float(text)
    if value - value != 0:
        # 1e400 is valid JSON syntax but no double: Python reads it as infinity, which no
        # JSON encoder (ours included) will write back.
        raise UnsafeJSON("number out of range")
    return value


_PAIRED_ESCAPES: Pattern[str] | None = None


def _lone_surrogate(text: str) -> bool:
    """True when the JSON ``text``, which parsed, escapes a lone UTF-16 surrogate: a ``\\u``
    escape of one that is not a high one followed at once by the escape of a low one (the
    pair the decoder joins into one character).

    One pass of a regex over the text. A walk of the parsed value visited each node in
    Python: a 1 MB body of empty arrays and one escape took 0.3 s more than parsing it.
    """
    global _PAIRED_ESCAPES
    if _PAIRED_ESCAPES is None:
        import re

        # JSON that parsed holds a backslash only where an escape starts, so read from the
        # start the escapes follow one another: any but a surrogate's, or a pair.
        _PAIRED_ESCAPES = re.compile(
            r"(?:[^\\]++|\\[^u]|\\u(?![dD][89a-fA-F])[0-9a-fA-F]{4}"
            r"|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})*+"
        )
    return _PAIRED_ESCAPES.fullmatch(text) is None


def _constant(name: str) -> JSON:
    raise UnsafeJSON(f"{name} is not JSON")


_decoder: JSONDecoder | None = None


def _strict_decoder() -> JSONDecoder:
    # ``json`` imports ``re`` (with ``enum``, ``functools`` and ``collections`` behind it):
    # several ms of a cold start that most first requests, a GET among them, never need.
    global _decoder
    if _decoder is None:
        from json import JSONDecoder

        _decoder = JSONDecoder(
            object_pairs_hook=_pairs, parse_int=_int, parse_float=_float, parse_constant=_constant
        )
    return _decoder


_NOT_NESTING: Pattern[str] | None = None


def nesting_exceeds(text: str, limit: int) -> bool:
    """True when the JSON ``text`` nests arrays and objects deeper than ``limit`` (or
    leaves brackets unbalanced), told before parsing it.

    A recursive parser meets deep nesting with the interpreter's own stack, which in
    WebAssembly (Pyodide, Workers) ends the process instead of raising. Strings are
    dropped first (their brackets do not nest), then the rest is cut to its brackets, and
    each pass of ``replace`` removes exactly the innermost level: all C-speed work.
    """
    global _NOT_NESTING
    if _NOT_NESTING is None:
        import re

        # A string (one left open runs to the end), or a run of anything but brackets and
        # quotes. Every match is taken where it starts: an open string that fell back to
        # its quote alone was scanned to the end again from each later quote, and
        # '"\\"\\"...' (64 KB) took 14 s of CPU, past any deadline (quadratic).
        _NOT_NESTING = re.compile(r'"(?:[^"\\]++|\\.?)*+"?|[^\[\]{}"]++', re.DOTALL)
    brackets = _NOT_NESTING.sub("", text).replace("{", "[").replace("}", "]")
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace("[]", "")
    return bool(brackets)


def parse_json(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> JSON:
    """Parse a JSON document strictly.

    Refused with :class:`UnsafeJSON`: invalid UTF-8, a byte-order mark, duplicate keys,
    ``__proto__``/``constructor``/``prototype`` keys, nesting deeper than ``max_depth``,
    numbers of more than 4300 digits (a sign, point or exponent marker is not one) or
    beyond a double's range, NaN and Infinity, ``\\u`` escapes of lone UTF-16 surrogates
    (no Unicode text holds one), trailing data.

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
    # Measured before parsing: a document of 6,000 nested arrays (12 KB) exhausts the
    # stack of a WebAssembly interpreter, which ends the process rather than raising.
    if text.count("[") + text.count("{") > max_depth and nesting_exceeds(text, max_depth):
        raise UnsafeJSON("nesting too deep")
    try:
        value: JSON = _strict_decoder().decode(text)
    except UnsafeJSON:
        raise
    except (ValueError, RecursionError):
        raise UnsafeJSON("malformed JSON") from None
    # Valid UTF-8 holds no surrogate, so only an escape (or a str given in) can make one.
    if ("\\u" in text and _lone_surrogate(text)) or (
        type(data) is not bytes and not text.isascii() and not _encodes(text)
    ):
        raise UnsafeJSON("lone surrogate")
    return value


def _encodes(text: str) -> bool:
    """True when ``text`` holds no surrogate, which UTF-8 cannot encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_serializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encoder(ascii_only: bool) -> Callable[[object], str]:
    """Compact JSON text, NaN and infinities refused, built once.

    CPython's C encoder comes straight from ``_json`` (``json`` itself is not imported;
    ``JSONEncoder.encode`` would also build a new encoder on every call). No
    circular-reference bookkeeping: a shared record would be touched by every thread at
    once, and a cycle still ends in an error (``RecursionError``).
    """
    built = _c_encoder(ascii_only)
    if built is None:  # an interpreter without the C accelerator
        from json import JSONEncoder

        encoder = JSONEncoder(
            separators=(",", ":"),
            ensure_ascii=ascii_only,
            allow_nan=False,
            default=_not_serializable,
        )
        return encoder.encode

    def encode(value: object) -> str:
        return "".join(built(value, 0))

    return encode


def _c_encoder(ascii_only: bool) -> Callable[[object, int], Iterable[str]] | None:
    """The C encoder ``_encoder`` wraps, or ``None`` without the accelerator."""
    try:
        from _json import encode_basestring, encode_basestring_ascii, make_encoder
    except ImportError:
        return None
    strings = encode_basestring_ascii if ascii_only else encode_basestring
    built: Callable[[object, int], Iterable[str]] = make_encoder(
        None, _not_serializable, strings, None, ":", ",", False, False, False
    )
    return built


_encode_text = _encoder(ascii_only=False)
# ``dumps`` calls the C encoder itself (one Python call fewer per response) when it has one.
_text_chunks = _c_encoder(ascii_only=False)
encode_ascii = _encoder(ascii_only=True)
"""Compact JSON with every non-ASCII character escaped (log lines)."""


def _string_ascii() -> Callable[[str], str]:
    try:
        from _json import encode_basestring_ascii
    except ImportError:  # an interpreter without the C accelerator
        from json.encoder import py_encode_basestring_ascii

        return py_encode_basestring_ascii
    return encode_basestring_ascii


string_ascii = _string_ascii()
"""One str as a JSON string literal, non-ASCII escaped: ``string_ascii('é') == '"\\u00e9"'``."""


def dumps(value: object) -> bytes:
    """Compact UTF-8 JSON; non-ASCII kept, ``<``, ``>`` and ``&`` escaped for HTML safety."""
    text = "".join(_text_chunks(value, 0)) if _text_chunks is not None else _encode_text(value)
    if "<" in text or ">" in text or "&" in text:
        text = _html_safe(text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate in a str the application built: written as its escape, as
        # JavaScript's JSON.stringify writes one, instead of failing the response.
        return _html_safe(encode_ascii(value)).encode("ascii")


def _html_safe(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
