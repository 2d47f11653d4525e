import pytest

from daloy_edge import UnsafeJSON, parse_json
from daloy_edge._json import dumps
from tests.support.calls import calls_made


def test_parses_plain_document():
    assert parse_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


@pytest.mark.parametrize(
    "doc",
    [
        b'{"a": 1, "a": 2}',
        b'{"__proto__": {"admin": true}}',
        b'{"x": {"constructor": {"prototype": 1}}}',
        b'{"prototype": 1}',
        b"[NaN]",
        b"[Infinity]",
        b"[-Infinity]",
        b"\xff\xfe{}",
        b'"\xc0\xae"',
        b"\xef\xbb\xbf{}",
        b"{} {}",
        b"{'a': 1}",
        b"",
        b"[" + b"1" * 4301 + b"]",
        b"[1." + b"0" * 4300 + b"]",
        b"[" * 33 + b"]" * 33,
        b'{"a":' * 40 + b"1" + b"}" * 40,
        b"[" * 100000,
        b"[1e400]",
        b'{"a": -1e400}',
        b'["\\ud800"]',
        b'{"\\udc00x": 1}',
        b'["\\ude00\\ud83d"]',
    ],
    ids=[
        "duplicate-key",
        "proto",
        "constructor-nested",
        "prototype",
        "nan",
        "infinity",
        "minus-infinity",
        "utf16-bom-bytes",
        "overlong-utf8",
        "utf8-bom",
        "trailing-data",
        "single-quotes",
        "empty",
        "huge-int",
        "huge-float",
        "depth-33-arrays",
        "depth-40-objects",
        "unclosed-deep",
        "float-overflow",
        "negative-float-overflow",
        "lone-high-surrogate",
        "lone-low-surrogate-in-key",
        "surrogates-in-wrong-order",
    ],
)
def test_rejects_unsafe_json(doc):
    with pytest.raises(UnsafeJSON):
        parse_json(doc)


def test_accepts_a_negative_number_of_exactly_4300_digits():
    assert parse_json(b"-" + b"9" * 4300) == -int("9" * 4300)


def test_rejects_a_signed_number_of_4301_digits():
    with pytest.raises(UnsafeJSON):
        parse_json(b"-" + b"9" * 4301)


def test_accepts_an_escaped_surrogate_pair():
    assert parse_json(b'["\\ud83d\\ude00"]') == ["\U0001f600"]


def test_bytes_are_read_as_utf_8_so_utf_7_shifts_stay_text_and_non_ascii_is_kept():
    # Read as UTF-7, "+ADw-" is "<": markup a filter on the raw body never saw.
    assert parse_json('{"a": "+ADw-script+AD4-", "é": "€"}'.encode()) == {
        "a": "+ADw-script+AD4-",
        "é": "€",
    }


@pytest.mark.parametrize(
    ("document", "value"),
    [
        (b'["\\ud800\\udc00"]', ["\U00010000"]),
        (b'["\\udbff\\udfff"]', ["\U0010ffff"]),
        (b'["\\uD83D\\uDE00"]', ["\U0001f600"]),
        (b'{"\\ud840\\udc0b": "\\u00e9"}', {"\U0002000b": "\u00e9"}),
    ],
    ids=["first-pair-zero-digits", "last-pair", "capital-hex", "pair-in-key"],
)
def test_accepts_every_escaped_surrogate_pair_not_only_one_without_zero_digits(document, value):
    # The pair check reads each half's four hex digits: a valid character past U+FFFF
    # written as its escapes (as JavaScript's JSON.stringify of an emoji or a CJK
    # extension character may be) is no lone surrogate.
    assert parse_json(document) == value


def test_rejects_a_lone_surrogate_in_a_str_document():
    with pytest.raises(UnsafeJSON):
        parse_json('{"a": "\ud800"}')


def test_accepts_non_ascii_text_in_a_str_document():
    assert parse_json('{"caf\u00e9": "\u20ac"}') == {"caf\u00e9": "\u20ac"}


def test_dumps_refuses_a_value_json_cannot_hold_naming_only_its_type():
    # A datetime or Decimal a handler returned: its route answers a 500 problem.
    import datetime

    with pytest.raises(TypeError, match="datetime is not JSON serializable"):
        dumps({"when": datetime.datetime(2026, 1, 1)})


def test_dumps_writes_a_lone_surrogate_as_its_escape():
    assert dumps({"a": "\ud800<é"}) == b'{"a":"\\ud800\\u003c\\u00e9"}'


def test_accepts_depth_32():
    assert parse_json(b"[" * 32 + b"]" * 32) is not None


def test_accepts_many_brackets_inside_strings():
    assert parse_json(b'{"a": "' + b"[" * 100 + b'"}') == {"a": "[" * 100}


def test_dumps_escapes_html_significant_characters():
    assert dumps({"a": "</script>&"}) == b'{"a":"\\u003c/script\\u003e\\u0026"}'


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("</script", b'"\\u003c/script"'), ("-->", b'"--\\u003e"'), ("&lt;", b'"\\u0026lt;"')],
)
def test_dumps_escapes_each_html_character_alone_so_no_island_closes_its_script(text, escaped):
    # A JSON island in a page ends at "</script" with no ">" or "&" beside it.
    assert dumps(text) == escaped


def test_deep_nesting_is_refused_before_any_recursive_parser_sees_it(monkeypatch):
    # A recursive parser meets deep nesting with the interpreter's own stack: on
    # WebAssembly (Workers) 6,000 nested arrays, 12 KB, end the process.
    import daloy_edge._json as module

    def no_parser():  # type: ignore[no-untyped-def]
        raise AssertionError("the document reached the parser")

    monkeypatch.setattr(module, "_strict_decoder", no_parser)
    with pytest.raises(UnsafeJSON, match="nesting too deep"):
        parse_json(b"[" * 6000 + b"]" * 6000)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 33 + b'"' + b'\\"' * 32_000,
        b"{" * 33 + b'"a\\' * 21_000,
    ],
    ids=["escaped-quotes", "letters-and-escaped-quotes"],
)
def test_string_left_open_is_measured_in_linear_time(body):
    # A quote never closed, then escapes to the end, behind more brackets than the
    # depth limit: the nesting check fell back to the quote alone and scanned to the end
    # again from every later quote; this 64 KB body (a JSON route's limit) held a CPU for
    # 14 s, past any deadline. Counted, not timed: the open string is one match, read once.
    import daloy_edge._json as module

    with pytest.raises(UnsafeJSON):
        parse_json(body)
    text = body.decode()
    quote = text.index('"')
    assert module._NOT_NESTING is not None
    assert [m.span() for m in module._NOT_NESTING.finditer(text, quote)] == [(quote, len(text))]


@pytest.mark.parametrize(
    ("text", "deeper_than_32"),
    [
        ("[" * 32 + "]" * 32, False),
        ("[" * 33 + "]" * 33, True),
        ('{"a":' * 33 + "1" + "}" * 33, True),
        ("[{" * 16 + "}]" * 16, False),
        ("[{" * 17 + "}]" * 17, True),
        ('["' + "[" * 100 + '"]' + ", []" * 50, False),
        ('["\\\\", "\\\\", ' + "[]," * 40 + "1]", False),
        ('["\\"' + "[" * 40 + '"]', False),
    ],
    ids=[
        "32-arrays",
        "33-arrays",
        "33-objects",
        "32-alternating",
        "34-alternating",
        "brackets-inside-a-string",
        "escaped-backslashes",
        "escaped-quote-keeps-the-string-open",
    ],
)
def test_nesting_is_measured_without_parsing(text, deeper_than_32):
    from daloy_edge._json import nesting_exceeds

    assert nesting_exceeds(text, 32) is deeper_than_32


def test_lone_surrogate_check_visits_no_value_in_python():
    # One escape made the check walk the parsed value in Python, node by node: a 1 MB
    # body of empty arrays (within the default body limit) took 0.3 s more than parsing.
    # Counted, not timed: the calls Python makes while the document is parsed.
    body = b'["\\u00e9",' + b"[]," * 20_000 + b'"\\ud83d\\ude00"]'
    parsed: list[object] = [parse_json(body)]  # the first parse also compiles the pattern
    assert calls_made(lambda: parsed.append(parse_json(body))) < 100
    value = parsed[1]
    assert value[0] == "\u00e9" and value[-1] == "\U0001f600"  # type: ignore[index]
