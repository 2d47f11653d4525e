"""Control characters escaped in what a :class:`LoggerSink` hands to another logger.

The request log's own lines escape every control and non-ASCII character. A logger given
the record writes it with its formatter instead: a text formatter writes the message as
it is, and a JSON formatter that keeps non-ASCII as it is (Powertools': ``ensure_ascii``
off) writes C1 controls, the Unicode line separators and the bidirectional controls raw.
"""

from __future__ import annotations

from daloy_edge._json import string_ascii
from daloy_edge._lazy import LazyPattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    from re import Match

__all__ = ["escaped_message", "escaped_values"]

# What a JSON formatter writes raw: DEL and C1 controls (NEL ends a line for some log
# readers, CSI drives a terminal), U+2028 and U+2029 (line and paragraph separators), the
# bidirectional controls (U+202E shows the text after it reversed, hiding what it says),
# and lone surrogates (a Lambda event's JSON can spell one in a header), which no UTF-8
# stream takes: the logging handler dropped the record, reporting it on stderr.
_RAW_IN_JSON = "\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
_IN_JSON = LazyPattern(f"[{_RAW_IN_JSON}]")
# A message goes out as it is under any formatter: C0 controls too (a line break in it
# starts a record of the client's making under a text formatter).
_IN_MESSAGE = LazyPattern(f"[\x00-\x1f{_RAW_IN_JSON}]")


def _escape(match: Match[str]) -> str:
    return string_ascii(match[0])[1:-1]


def escaped_message(text: str) -> str:
    """``text`` with every control character, line separator and bidirectional control
    written as its JSON escape (``\\n``, ``\\u202e``)."""
    return text if text.isprintable() else _IN_MESSAGE.sub(_escape, text)


def escaped_values(value: object) -> object:
    """``value`` with the characters a JSON formatter writes raw escaped in every string
    and key of its dicts and lists (line breaks are left to the formatter to escape)."""
    if isinstance(value, str):
        return value if value.isprintable() else _IN_JSON.sub(_escape, value)
    if isinstance(value, dict):
        return {escaped_values(k): escaped_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escaped_values(item) for item in value]
    return value
