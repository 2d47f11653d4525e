"""``percent_decode`` against ``urllib.parse.unquote`` (the oracle) on generated input."""

from __future__ import annotations

import random
from urllib.parse import unquote

from daloy_edge._paths import percent_decode

PIECES = ["%", "2", "e", "E", "C3", "A9", "%C3", "%A9", "%2e", "%2F", "%ff", "%zz", "a", "/"]
PIECES += ["%0", "%%", "\u00e9", "%E2%82", "%AC", "%00", ";", "%3B", "\u2028"]
# What the one-pass decoder treats apart: backslashes (its own escape character) and lone
# surrogates (a Lambda event's JSON can hold one; they have no UTF-8 to decode through).
PIECES += ["\\", "\\x41", "%5C", "\\%41", "\udc80", "\ud800", "%ED%B2%80"]


def _outcome(decode: object, text: str, errors: str) -> str:
    try:
        return decode(text, errors=errors)  # type: ignore[operator,no-any-return]
    except UnicodeDecodeError:
        return "<UnicodeDecodeError>"


def test_matches_unquote_in_both_error_modes() -> None:
    rng = random.Random(20261129)
    for _ in range(20_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 9)))
        for errors in ("replace", "strict"):
            assert _outcome(percent_decode, text, errors) == _outcome(unquote, text, errors), text


def test_text_without_escapes_is_returned_as_is() -> None:
    text = "/plain/path"
    assert percent_decode(text) is text
