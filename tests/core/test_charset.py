"""``Charset`` and ``has_control`` against ``re`` as the oracle."""

from __future__ import annotations

import random
import re

import pytest

from daloy_edge._charset import ALNUM, TCHAR, Charset, allowed, has_control, span
from daloy_edge._lazy import LazyPattern

ALPHABET = ALNUM + TCHAR + " \t\r\n\x00\x1f\x7f\x80\x9f\xa0é€\u2028\ud800😀/;:=\"'"


def _strings(seed: int, count: int = 3000) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(ALPHABET, k=rng.randint(0, 12))) for _ in range(count)]


@pytest.mark.parametrize(
    ("chars", "min_len", "max_len", "oracle"),
    [
        (TCHAR, 1, None, r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"),
        (ALNUM + "._:-", 1, 8, r"[A-Za-z0-9._:\-]{1,8}"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1, 16, r"[A-Z]{1,16}"),
        (ALNUM + "_-", 0, None, r"[A-Za-z0-9_\-]*"),
    ],
)
def test_charset_agrees_with_a_regex(
    chars: str, min_len: int, max_len: int | None, oracle: str
) -> None:
    charset = Charset(chars, min_len=min_len, max_len=max_len)
    pattern = re.compile(oracle)
    for text in [*_strings(len(oracle)), *(c * 9 for c in chars)]:
        assert charset.fullmatch(text) is (pattern.fullmatch(text) is not None), repr(text)


def test_charset_refuses_a_trailing_newline_that_dollar_would_allow() -> None:
    assert re.match(r"^[a-z]+$", "abc\n") is not None
    assert not Charset("abcdefghijklmnopqrstuvwxyz").fullmatch("abc\n")


def test_charset_holds_ascii_only() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        Charset("é")


@pytest.mark.parametrize("allow_tab", [False, True])
def test_has_control_agrees_with_a_regex(allow_tab: bool) -> None:
    pattern = re.compile("[\x00-\x08\x0a-\x1f\x7f]" if allow_tab else "[\x00-\x1f\x7f]")
    for text in _strings(7 + allow_tab):
        assert has_control(text, allow_tab=allow_tab) is (pattern.search(text) is not None)


def test_allowed_maps_exactly_its_characters_to_a_and_every_other_byte_to_a_space() -> None:
    # Repeated characters, "a" and " " themselves, NUL and DEL included.
    rng = random.Random(7)
    sets = [ALNUM, TCHAR, "", "a", " ", "aa a", "\x00\x7f"]
    sets += ["".join(chr(rng.randrange(128)) for _ in range(rng.randrange(60))) for _ in range(500)]
    for chars in sets:
        expected = bytes(0x61 if chr(code) in chars else 0x20 for code in range(256))
        assert allowed(chars) == expected, repr(chars)


def test_span_includes_both_ends() -> None:
    assert span("a", "e") == "abcde"


def test_lazy_pattern_compiles_on_first_use() -> None:
    pattern = LazyPattern(r"(?i)b+")
    assert pattern._compiled is None
    assert pattern.sub("-", "aBbc") == "a-c"
    assert pattern.fullmatch("bB") is not None
    assert pattern.search("xyz") is None
