"""Compact JWS parsing, strict base64url and the verifier's order of checks."""

from __future__ import annotations

import hmac
import json

import pytest

from daloy_edge.jose import (
    ClaimsPolicy,
    InvalidToken,
    JWKSet,
    JWTVerifier,
    b64url_decode,
    b64url_encode,
    check_header,
    parse_compact,
)
from daloy_edge.jose._jws import decode_json_segment
from tests.jwtkit import AUDIENCE, ISSUER, NOW, assemble, claims, ec_key, jwks, mint, public_jwk


@pytest.mark.parametrize("data", [b"", b"a", b"ab", b"abc", bytes(range(256))])
def test_base64url_round_trips(data):
    assert b64url_decode(b64url_encode(data)) == data


@pytest.mark.parametrize("text", ["a", "aGk=", "aG+k", "aG/k", "aGj", "a Gk", "aGk\n", "aé"])
def test_non_canonical_base64url_is_refused(text):
    with pytest.raises(ValueError):
        b64url_decode(text)


def test_parse_compact_exposes_header_and_signing_input():
    token = mint(ec_key(), "ES256", "k")
    jws = parse_compact(token)
    assert jws.header["kid"] == "k"
    assert hmac.compare_digest(jws.signing_input, token.rsplit(".", 1)[0].encode())
    assert len(jws.signature) == 64


def test_header_without_alg_is_refused():
    with pytest.raises(InvalidToken, match="alg missing"):
        check_header({"kid": "k"}, {"ES256"})


def test_typ_is_enforced_when_configured():
    check_header({"alg": "ES256", "kid": "k", "typ": "application/at+jwt"}, {"ES256"}, {"at+jwt"})
    with pytest.raises(InvalidToken, match="typ"):
        check_header({"alg": "ES256", "kid": "k", "typ": "JWT"}, {"ES256"}, {"at+jwt"})


@pytest.mark.parametrize("typ", [5, None, ["at+jwt"], {"at+jwt": True}, "absent"])
def test_a_missing_or_non_string_typ_is_refused_not_crashed_on_when_typ_is_configured(typ):
    header: dict[str, object] = {"alg": "ES256", "kid": "k"}
    if typ != "absent":
        header["typ"] = typ
    with pytest.raises(InvalidToken, match="typ"):
        check_header(header, {"ES256"}, {"at+jwt"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "typ",
    ["logout+jwt", "secevent+jwt", "dpop+jwt", "application/token-introspection+jwt", 5],
)
def test_a_typ_naming_another_kind_of_token_is_refused_by_default(typ):
    """RFC 8725 3.11: a back-channel logout token, security event or DPoP proof, signed
    with the issuer's keys, is no access token even when its aud and iss match."""
    with pytest.raises(InvalidToken, match="typ"):
        check_header({"alg": "ES256", "kid": "k", "typ": typ}, {"ES256"})


@pytest.mark.parametrize(
    "typ", ["JWT", "jwt", "at+jwt", "application/at+JWT", "JOSE", None, "absent"]
)
def test_an_access_token_typ_or_none_passes_by_default(typ):
    header: dict[str, object] = {"alg": "ES256", "kid": "k"}
    if typ != "absent":
        header["typ"] = typ
    check_header(header, {"ES256"})


def verifier(**kwargs: object) -> JWTVerifier:
    return JWTVerifier(
        keys=JWKSet.parse(jwks(public_jwk(ec_key(), "k"))),
        algorithms=["ES256"],
        policy=ClaimsPolicy(issuer=ISSUER, audience=AUDIENCE),
        clock=lambda: NOW,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_verifier_returns_the_claims():
    verified = await verifier().verify(mint(ec_key(), "ES256", "k"))
    assert verified.claims["sub"] == "alice"
    assert verified.header["alg"] == "ES256"


async def test_header_of_a_verified_token_is_read_only():
    verified = await verifier().verify(mint(ec_key(), "ES256", "k"))
    with pytest.raises(TypeError):
        verified.header["alg"] = "none"  # type: ignore[index]


async def test_signature_is_checked_before_the_claims_are_read():
    token = assemble({"alg": "ES256", "kid": "k"}, "[not json", bytes(64))
    with pytest.raises(InvalidToken, match="signature"):
        await verifier().verify(token)


async def test_unknown_kid_reason():
    with pytest.raises(InvalidToken, match="unknown kid"):
        await verifier().verify(mint(ec_key(), "ES256", "other"))


async def test_claims_are_checked_after_a_valid_signature():
    token = mint(ec_key(), "ES256", "k", claims(aud="elsewhere"))
    with pytest.raises(InvalidToken, match="audience"):
        await verifier().verify(token)


async def test_cached_header_still_checks_each_signature():
    v = verifier()
    good = mint(ec_key(), "ES256", "k")
    await v.verify(good)
    header, _, signature = good.split(".")
    forged = f"{header}.{b64url_encode(json.dumps(claims(sub='admin')).encode())}.{signature}"
    with pytest.raises(InvalidToken, match="bad signature"):
        await v.verify(forged)


async def test_typ_policy_applies_through_the_verifier():
    with pytest.raises(InvalidToken, match="typ"):
        await verifier(typ=["at+jwt"]).verify(mint(ec_key(), "ES256", "k"))


def _segment(text: str) -> str:
    return b64url_encode(text.encode())


@pytest.mark.parametrize(
    "text",
    ['{"alg":"RS256"}', ' {"alg": "RS256"} ', '\n{"alg":"RS256"}\t', '{ "alg" : "RS256" }'],
)
def test_segments_with_or_without_surrounding_whitespace_decode_alike(text: str):
    assert decode_json_segment(_segment(text), "header") == {"alg": "RS256"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"alg":"RS256"}x', "malformed JSON"),
        ('{"alg":"RS256"}{}', "malformed JSON"),
        ('{"a":1,"a":2}', "duplicate object key"),
        (' {"a":1,"a":2}', "duplicate object key"),
        ('{"a":NaN}', "NaN is not JSON"),
        ('{"__proto__":{}}', "prototype-pollution key"),
        ('{"a":', "malformed JSON"),
        ("", "malformed JSON"),
        ("[1]", "not a JSON object"),
        ('{"a":1e400}', "number out of range"),
        (' {"a":-1E400} ', "number out of range"),
        ('{"a":"\\ud800"}', "lone surrogate"),
        (' {"a":["x\\uDC00"]} ', "lone surrogate"),
    ],
)
def test_unacceptable_segments_are_refused_with_their_reason(text: str, reason: str):
    with pytest.raises(InvalidToken, match=reason):
        decode_json_segment(_segment(text), "payload")


@pytest.mark.parametrize("filler", ["", '"note":"' + "[" * 40 + '",'], ids=["plain", "brackets"])
def test_a_claim_of_more_than_4300_digits_is_refused_whether_or_not_brackets_precede_it(
    filler: str,
):
    # Only the second went through parse_json: the scanner's float hook counted no digits.
    text = "{" + filler + '"n":1.' + "0" * 4300 + "}"
    with pytest.raises(InvalidToken, match="number too long"):
        decode_json_segment(_segment(text), "payload")


def test_escaped_characters_and_surrogate_pairs_decode():
    text = '{"name":"J\\u00fcrgen \\ud83d\\ude00","ratio":1.5e300}'
    assert decode_json_segment(_segment(text), "payload") == {
        "name": "J\u00fcrgen \U0001f600",
        "ratio": 1.5e300,
    }


def test_a_deeply_nested_header_is_refused_before_the_scanner_reads_it(
    monkeypatch: pytest.MonkeyPatch,
):
    # An unsigned token's header nesting 6,000 arrays ended a WebAssembly interpreter
    # (Workers): the recursive scanner ran out of stack before the depth was checked.
    import daloy_edge.jose._jws as jws

    def no_scanner(text: str, index: int) -> object:
        raise AssertionError("the header reached the recursive scanner")

    monkeypatch.setattr(jws, "_SCAN", no_scanner)
    header = '{"alg":"RS256","x":' + "[" * 6000 + "]" * 6000 + "}"
    with pytest.raises(InvalidToken, match="nesting too deep"):
        decode_json_segment(_segment(header), "header")


_URLSAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _reference_b64url_decode(text: str) -> bytes:
    """Canonical base64url by definition: the alphabet only, and re-encoding gives it back."""
    import base64
    import binascii

    if not _URLSAFE.issuperset(text):
        raise ValueError("alphabet")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise ValueError("length") from None
    if b64url_encode(data) != text:
        raise ValueError("not canonical")
    return data


def test_base64url_decoding_agrees_with_the_definition_of_canonical():
    import random

    rng = random.Random(7)
    alphabet = sorted(_URLSAFE) + list("+/= \n\t.!é")
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        try:
            expected: bytes | None = _reference_b64url_decode(text)
        except ValueError:
            expected = None
        try:
            got: bytes | None = b64url_decode(text)
        except ValueError:
            got = None
        assert got == expected, repr(text)


def _reference_split(token: str) -> tuple[str, str, str] | str:
    """The segments as a plain split gives them, or the reason for refusing."""
    parts = token.split(".")
    if len(parts) != 3:
        return "not a compact JWS"
    header, payload, signature = parts
    if not header or not payload:
        return "empty header or payload"
    if not signature:
        return "unsigned token"
    return header, payload, signature


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "...",
        "a",
        "a.b",
        "a.b.",
        ".b.c",
        "a..c",
        "a.b.c",
        "a.b.c.",
        "a.b.c.d",
        "a.b.c.d.e",
        ".a.b",
        "ab.cd.AA",
        "a..",
        "..c",
        "ey.J9.e30.AA",
    ],
)
def test_compact_splitting_agrees_with_a_plain_split(token: str):
    from daloy_edge.jose._jws import split_compact

    expected = _reference_split(token)
    try:
        header, payload, signing_input, signature = split_compact(token)
    except InvalidToken as exc:
        if str(exc) == "signature is not canonical base64url":
            assert not isinstance(expected, str)
            with pytest.raises(ValueError):
                b64url_decode(expected[2])
        else:
            assert str(exc) == expected
        return
    assert expected == (header, payload, b64url_encode(signature))
    assert signing_input == f"{header}.{payload}".encode()


def test_flat_object_is_reported_flat_and_parsed_once():
    from daloy_edge.jose._jws import decode_object_segment

    value, flat = decode_object_segment(_segment('{"sub":"a","exp":1,"ok":true}'), "payload")
    assert value == {"sub": "a", "exp": 1, "ok": True}
    assert flat is True


@pytest.mark.parametrize(
    "text",
    [
        '{"aud":["a","b"]}',
        '{"ctx":{"k":1}}',
        '{"note":"has [ inside"}',
        '{"note":"has { inside"}',
        ' {"sub":"a"}',
    ],
)
def test_objects_that_might_nest_are_not_reported_flat(text: str):
    from daloy_edge.jose._jws import decode_object_segment

    value, flat = decode_object_segment(_segment(text), "payload")
    assert value == json.loads(text)
    assert flat is False


@pytest.mark.parametrize("opener", ["[", "{"])
def test_nesting_past_the_depth_limit_is_refused(opener: str):
    closer = "]" if opener == "[" else "}"
    inner = '{"k":' * 32 + "1" + "}" * 32 if opener == "{" else "[" * 32 + "1" + "]" * 32
    deep = '{"a":' + inner + "}"
    assert deep.count(opener) >= 32 and deep.count(closer) >= 32
    with pytest.raises(InvalidToken, match="nesting too deep"):
        decode_json_segment(_segment(deep), "payload")


def test_nesting_at_the_depth_limit_is_accepted():
    inner = "[" * 31 + "1" + "]" * 31
    assert decode_json_segment(_segment('{"a":' + inner + "}"), "payload")["a"]
