"""``is_dictionary``: RFC 9651's Dictionary grammar, each rule from the parsing algorithm (4.2)."""

from __future__ import annotations

import pytest

from daloy_edge._structured import is_dictionary

DICTIONARIES = [
    ("", "4.2: an empty field is an empty Dictionary"),
    ("a", "4.2.2: a member without a value is Boolean true"),
    ("a=1, b=2", "4.2.2: members separated by a comma"),
    ("a=1 ,\tb=2", "4.2.2: OWS (SP or HTAB) around the comma"),
    ("  a=1  ", "4.2: leading and trailing SP discarded"),
    ("a=1, a=2", "4.2.2: a repeated key overwrites, it does not fail"),
    ("*a.b_c-d*9=1", "4.2.3.3: a key is lcalpha or * and then lcalpha, DIGIT, _ - . *"),
    ("a=()", "4.2.1.2: an empty Inner List"),
    ("a=(  1   2  )", "4.2.1.2: SP before and between Inner List members"),
    ('a=("x" y);p=*z', "4.2.1.2: an Inner List of a String and a Token, with parameters"),
    ("a=1;x;y=?0", "4.2.3.2: parameters, one without a value"),
    ("a=1; x=2", "4.2.3.2: SP after the semicolon"),
    ("a=-999999999999999", "4.2.4: an Integer of 15 digits"),
    ("a=123456789012.123", "4.2.4: a Decimal of 12 and 3 digits"),
    ('a="x\\"y\\\\z"', '4.2.5: \\" and \\\\ escapes in a String'),
    ("a=x/y:z!#", "4.2.6: a Token continues with tchar, : and /"),
    ("a=:aGk=:", "4.2.7: a Byte Sequence of padded base64"),
    ("a=:aGk:, b=::", "4.2.7: base64 without its padding, and an empty Byte Sequence"),
    ("a=?1, b=?0", "4.2.8: Booleans"),
    ("a=@1659578233, b=@-1", "4.2.9: Dates"),
    ('a=%"caf%c3%a9"', "4.2.10: a Display String of lowercase %-escaped UTF-8"),
    ('geolocation=(self "https://maps.example"), camera=()', "a Permissions-Policy"),
]

NOT_DICTIONARIES = [
    ("a=1,", "4.2.2: a trailing comma"),
    ("a=1,,b=2", "4.2.2: an empty member"),
    ("A=1", "4.2.3.3: a key in capitals"),
    ("1a=1", "4.2.3.3: a key starting with a digit"),
    ("\ta=1", "4.2: only SP is discarded before the field, not HTAB"),
    ("a=1 b=2", "4.2.2: members without a comma between them"),
    ("camera 'none'; microphone 'none'", "Feature-Policy syntax"),
    ("a=(1,2)", "4.2.1.2: Inner List members separated by a comma"),
    ("a=(1", "4.2.1.2: an Inner List not closed"),
    ("a=(1)(2)", "4.2.1.2: two Inner Lists for one key"),
    ("a=1000000000000000", "4.2.4: an Integer of 16 digits"),
    ("a=1234567890123.1", "4.2.4: a Decimal of 13 integer digits"),
    ("a=1.", "4.2.4: a Decimal ending with its point"),
    ("a=1.1234", "4.2.4: a Decimal of 4 fraction digits"),
    ("a=-", "4.2.4: a sign without digits"),
    ("a=.5", "4.2.1.1: no Bare Item starts with a point"),
    ('a="x', "4.2.5: a String not closed"),
    ('a="\\x"', "4.2.5: an escape of another character"),
    ('a="caf\u00e9"', "4.2.5: a character past ASCII in a String"),
    ('a="\x7f"', "4.2.5: DEL in a String"),
    ("a='x'", "4.2.1.1: a single-quoted source"),
    ("a=:=:", "4.2.7: padding alone"),
    ("a=:aG=k:", "4.2.7: padding inside a Byte Sequence"),
    ("a=:a:", "4.2.7: one base64 character, which decodes to nothing"),
    ("a=:a-b=:", "4.2.7: a Byte Sequence of base64url"),
    ("a=:aGk=", "4.2.7: a Byte Sequence not closed"),
    ("a=?2", "4.2.8: a Boolean other than 0 or 1"),
    ("a=?", "4.2.8: a Boolean without its digit"),
    ("a=@1.5", "4.2.9: a Date that is a Decimal"),
    ('a=%"%C3%A9"', "4.2.10: a Display String in capital hex"),
    ('a=%"%c3"', "4.2.10: a Display String that is no UTF-8"),
    ('a=%"x', "4.2.10: a Display String not closed"),
    ("a=1;", "4.2.3.2: a semicolon without a parameter"),
    ("a=1;P=2", "4.2.3.3: a parameter key in capitals"),
]


@pytest.mark.parametrize(("text", "rule"), DICTIONARIES, ids=[r for _, r in DICTIONARIES])
def test_a_structured_field_dictionary_parses(text, rule):
    assert is_dictionary(text), rule


@pytest.mark.parametrize(("text", "rule"), NOT_DICTIONARIES, ids=[r for _, r in NOT_DICTIONARIES])
def test_text_outside_the_dictionary_grammar_does_not_parse(text, rule):
    assert not is_dictionary(text), rule
