"""The per-request checks written without ``re``, against the regexes they replace.

Each oracle is the regex (and the code around it) as it stood; the new checks must agree
on random and adversarial strings, except where the old ``^...$`` with ``.match`` let a
trailing newline through: those cases are named and now refused.
"""

from __future__ import annotations

import random
import re
import types

import pytest

from daloy_edge import BadRequest, Headers, RequestLimits
from daloy_edge._app import _request_id
from daloy_edge._charset import ALNUM, TCHAR, allowed, only
from daloy_edge._cookies import format_set_cookie, parse_cookie_header
from daloy_edge._guards import check_request
from daloy_edge._paths import UnsafePath, check_path
from daloy_edge.signing import BadSignature, b64decode, b64encode

ALPHABET = (
    ALNUM + TCHAR + " \t\r\n\x00\x1f\x7f\x80\x9f\xa0é€\u2028\u2029\ufeff\ud800😀/;:=\"'%{}\\.,@()"
)
SHORT = 'aZ09-_.:/%;=" \n\x00é\ud800'


def _strings(seed: int, alphabet: str = ALPHABET, count: int = 4000, most: int = 14) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(alphabet, k=rng.randint(0, most))) for _ in range(count)]


def _with_newlines(texts: list[str]) -> list[str]:
    return [*texts, *(t + "\n" for t in texts[:500])]


# -- allowed / only --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chars", "oracle"),
    [
        (TCHAR, r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"),
        (ALNUM + "._:-", r"[A-Za-z0-9._:\-]+"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", r"[A-Z]+"),
        (ALNUM + "/_-~!$&'()*+,;=:@.", r"[A-Za-z0-9/_\-~!$&'()*+,;=:@.]+"),
        (" \t", r"[ \t]+"),
    ],
)
def test_only_agrees_with_a_regex(chars: str, oracle: str) -> None:
    table, pattern = allowed(chars), re.compile(oracle)
    for text in [*_strings(len(oracle)), *(c * 5 for c in ALPHABET)]:
        expected = pattern.fullmatch(text) is not None
        assert only(text, table) is expected, repr(text)
        inline = text.isascii() and text.encode().translate(table).isalnum()
        assert inline is expected, repr(text)


def test_allowed_holds_ascii_only() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        allowed("é")


# -- request line and header fields ------------------------------------------------------

_OLD_METHOD = re.compile(r"[A-Z]{1,16}")
_OLD_NAME_CHARS = r"[!#$%&'*+\-.^_`|~0-9a-z]+"
_OLD_NAMES = re.compile(rf"{_OLD_NAME_CHARS}(?: {_OLD_NAME_CHARS})*")
_OLD_BAD_VALUE = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_COMMON = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _request(method: str = "GET", fields: list[tuple[str, str]] | None = None) -> object:
    headers = Headers._from_lowered(fields or [])
    return types.SimpleNamespace(method=method, headers=headers, raw_path="/", query_string="")


def _verdict(method: str = "GET", fields: list[tuple[str, str]] | None = None) -> str | None:
    try:
        check_request(_request(method, fields), RequestLimits())  # type: ignore[arg-type]
    except BadRequest as exc:
        return str(exc.detail)
    return None


def _old_verdict(method: str, fields: list[tuple[str, str]]) -> str | None:
    if method not in _COMMON and not _OLD_METHOD.fullmatch(method):
        return "invalid method"
    if fields:
        names = " ".join(n for n, _ in fields)
        values = "\t".join(v for _, v in fields)
        if names.count(" ") != len(fields) - 1 or not _OLD_NAMES.fullmatch(names):
            return "invalid header name"
        if _OLD_BAD_VALUE.search(values):
            return "control character in header value"
    return None


def test_method_check_agrees_with_the_regex() -> None:
    upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    methods = [
        *_strings(1, SHORT + upper),
        *_strings(2, upper + "aÀ\n", most=20),
        *(upper[:n] for n in range(0, 27)),
        *_COMMON,
        "get",
        "PROPFIND\n",
    ]
    for method in methods:
        assert _verdict(method) == _old_verdict(method, []), repr(method)


def test_header_field_checks_agree_with_the_regexes() -> None:
    rng = random.Random(3)
    good = [*_strings(4, "abz09-_!~`|^.", count=300, most=6), "content-length"]
    odd = [*_strings(5, "abz09-_!~`|^ \tAZ\n\x00é:", count=300, most=6), "", " ", "a b", "a\n"]
    names = good * 4 + odd
    values = [*_strings(6, "ab ,;=\t", most=10), *_strings(7, most=10), "", "\t", "ok value"]
    for _ in range(6000):
        fields = [(rng.choice(names), rng.choice(values)) for _ in range(rng.randint(1, 5))]
        assert _verdict("GET", fields) == _old_verdict("GET", fields), fields


# -- paths -------------------------------------------------------------------------------


def _old_check_path(raw_path: str) -> str:
    """``check_path`` with the regexes it had."""
    bad_escape = re.compile(r"%(?![0-9A-Fa-f]{2})")
    plain = re.compile(r"/[A-Za-z0-9/_\-~!$&'()*+,;=:@.]*")
    control = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
    escapes = re.compile("(?:%[0-9A-Fa-f]{2})+")

    def decode(text: str, errors: str) -> str:
        if "%" not in text:
            return text
        return escapes.sub(
            lambda run: bytes.fromhex(run.group(0).replace("%", "")).decode("utf-8", errors),
            text,
        )

    def segments(text: str) -> None:
        import unicodedata

        if "\\" in text:
            raise UnsafePath("backslash in path")
        if control.search(text):
            raise UnsafePath("control character in path")
        if "." not in text and text.isascii():
            return
        for segment in text.split("/"):
            bare = segment.split(";", 1)[0]
            folded = bare if bare.isascii() else unicodedata.normalize("NFKC", bare)
            if folded in (".", "..") or folded.strip() in (".", ".."):
                raise UnsafePath("dot segment in path")

    if plain.fullmatch(raw_path) and "/." not in raw_path:
        return raw_path
    if not raw_path.startswith("/"):
        raise UnsafePath("path must start with /")
    if bad_escape.search(raw_path):
        raise UnsafePath("malformed percent-escape in path")
    current = raw_path
    segments(current)
    for _ in range(4):
        try:
            decoded = decode(current, "strict")
        except UnicodeDecodeError:
            raise UnsafePath("invalid UTF-8 in path") from None
        segments(decoded)
        if decoded == current or "%" not in decoded:
            break
        current = decoded
    return decode(raw_path, "strict")


def _outcome(check: object, path: str) -> str:
    try:
        return "ok " + check(path)  # type: ignore[operator]
    except UnsafePath as exc:
        return f"unsafe {exc}"


def test_check_path_agrees_with_the_regex_version() -> None:
    path_alphabet = "a/.%2eE5cC0fF;\\ \n\x00\x7f\x85é\u2028\ufeff~:@"
    paths = [
        *("/" + t for t in _strings(8, path_alphabet, count=6000, most=12)),
        *("/" + t for t in _strings(9, "a/.%2eEc0;:", count=4000, most=12)),
        *_strings(10, path_alphabet, count=1000),
        *("/" + t for t in _strings(11, count=2000)),
        "/health",
        "/.well-known/security.txt",
        "/a/%2e%2e/b",
        "/%252e%252e/x",
        "/caf%C3%A9",
        "/x%zz",
        "/%c0%ae",
        "/ａ/．．/b",
        "/a\tb",
        "/a/\x85",
    ]
    for path in paths:
        assert _outcome(check_path, path) == _outcome(_old_check_path, path), repr(path)


# -- request id --------------------------------------------------------------------------


def test_request_id_check_agrees_with_the_regex_but_for_a_trailing_newline() -> None:
    old = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
    whole = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
    lengths = [*range(0, 4), 35, 36, 37, 127, 128, 129, 130]
    texts = [
        *_with_newlines(_strings(9)),
        *("a" * n for n in lengths),
        *("a" * n + "\n" for n in lengths),
        "3f2b8c1e-9d4a-4b7e-8f6a-1c2d3e4f5a6b",
    ]
    for text in texts:
        kept = _request_id(("x-request-id",), (text,)) == text
        assert kept is (whole.fullmatch(text) is not None), repr(text)
        if old.match(text) and not kept:
            assert text.endswith("\n"), repr(text)


# -- cookies -----------------------------------------------------------------------------

_OLD_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_OLD_COOKIE_VALUE = re.compile(r"^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$")
_COOKIE_ALPHABET = 'ab09=;" ,\\\t\n\x00\x7fé!#%~{}'


def _old_parse_cookie_header(header: str) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in header.split(";")[:128]:
        # Trimmed as the parser now trims (ASCII space and tab): this oracle checks the
        # character classes, not the whitespace rule (see test_cookies.py).
        name, sep, value = part.strip(" \t").partition("=")
        if not sep or not _OLD_COOKIE_NAME.match(name) or name in cookies:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if not _OLD_COOKIE_VALUE.match(value):
            continue
        cookies[name] = value
        if len(cookies) >= 64:
            break
    return cookies


def test_cookie_parsing_agrees_with_the_regexes_but_for_a_trailing_newline() -> None:
    headers = [*_strings(10, _COOKIE_ALPHABET, count=6000, most=24), "a\n=1", "a=1\n; b=2"]
    for header in headers:
        new, old = parse_cookie_header(header), _old_parse_cookie_header(header)
        if new != old:
            # Only a name or value ending in a newline, which ``$`` let through, differs.
            kept = {k: v for k, v in old.items() if "\n" not in (k[-1:], v[-1:])}
            assert kept == new, repr(header)
    header = 'a\n=1; b="2\n"; c=3'
    assert _old_parse_cookie_header(header) == {"a\n": "1", "b": "2\n", "c": "3"}
    assert parse_cookie_header(header) == {"c": "3"}


def _formats(**kwargs: object) -> bool:
    try:
        format_set_cookie(**kwargs)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def test_set_cookie_checks_agree_with_the_regexes() -> None:
    old_domain = re.compile(r"[A-Za-z0-9.-]+")
    texts = _with_newlines(_strings(11, _COOKIE_ALPHABET + ".-/", most=8))
    for text in texts:
        # ``fullmatch``: the new checks refuse the trailing newline ``$`` allowed.
        assert _formats(name=text, value="v") is bool(
            re.fullmatch(_OLD_COOKIE_NAME.pattern[1:-1], text)
        ), repr(text)
        assert _formats(name="n", value=text) is bool(
            re.fullmatch(_OLD_COOKIE_VALUE.pattern[1:-1], text)
        ), repr(text)
        assert _formats(name="n", value="v", domain=text) is bool(old_domain.fullmatch(text)), repr(
            text
        )
        assert _formats(name="n", value="v", path=text) is bool(
            re.fullmatch(_OLD_COOKIE_VALUE.pattern[1:-1], text) and ";" not in text
        ), repr(text)


# -- base64url ---------------------------------------------------------------------------


def _old_b64decode(text: str) -> bytes:
    import binascii

    if not re.match(r"^[A-Za-z0-9_-]*$", text) or len(text) % 4 == 1:
        raise BadSignature()
    try:
        padded = (text + "=" * (-len(text) % 4)).encode("ascii")
        data = binascii.a2b_base64(
            padded.translate(bytes.maketrans(b"-_", b"+/")), strict_mode=True
        )
    except (binascii.Error, ValueError):
        raise BadSignature() from None
    if b64encode(data) != text:
        raise BadSignature()
    return data


def _decoded(decode: object, text: str) -> bytes | None:
    try:
        return decode(text)  # type: ignore[operator, no-any-return]
    except BadSignature:
        return None


def test_b64decode_outcomes_are_unchanged() -> None:
    # The old pre-check let "...\n" through, to a decode that refused it anyway.
    rng = random.Random(12)
    valid = [b64encode(rng.randbytes(n)) for n in range(0, 40)]
    texts = [
        *_with_newlines(_strings(13, ALNUM[:12] + "_-=+/ \n.é\ud800", most=12)),
        *valid,
        *(t + "\n" for t in valid),
    ]
    for text in texts:
        assert _decoded(b64decode, text) == _decoded(_old_b64decode, text), repr(text)
    assert all(_decoded(b64decode, text) is not None for text in valid)
