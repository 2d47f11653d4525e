from __future__ import annotations

import pytest

from daloy_edge import ConfigError, KeyRing
from daloy_edge.signing import BadSignature, Signer, b64decode, b64encode

NOW = 1_700_000_000
KEY_A = "a" * 32
KEY_B = "b" * 32


def signer(*keys: str, purpose: str = "test") -> Signer:
    return Signer(KeyRing(list(keys)), purpose=purpose)


def test_sign_then_verify_returns_payload_and_time():
    verified = signer(KEY_A).verify(signer(KEY_A).sign(b"data", now=NOW), now=NOW, max_age=10)
    assert (verified.payload, verified.timestamp, verified.key_index) == (b"data", NOW, 0)


def test_refuses_keys_shorter_than_32_bytes():
    with pytest.raises(ConfigError):
        signer("s" * 31)


def test_older_key_verifies_and_asks_for_resign():
    token = signer(KEY_B).sign(b"x", now=NOW)
    verified = signer(KEY_A, KEY_B).verify(token, now=NOW, max_age=10)
    assert verified.key_index == 1 and verified.needs_resign


def test_unknown_key_is_refused():
    token = signer(KEY_B).sign(b"x", now=NOW)
    with pytest.raises(BadSignature):
        signer(KEY_A).verify(token, now=NOW, max_age=10)


def test_other_purpose_is_refused():
    token = signer(KEY_A, purpose="session").sign(b"x", now=NOW)
    with pytest.raises(BadSignature):
        signer(KEY_A, purpose="csrf").verify(token, now=NOW, max_age=10)


def test_expired_token_is_refused():
    token = signer(KEY_A).sign(b"x", now=NOW)
    with pytest.raises(BadSignature):
        signer(KEY_A).verify(token, now=NOW + 11, max_age=10)


def test_token_from_the_future_is_refused():
    token = signer(KEY_A).sign(b"x", now=NOW + 3600)
    with pytest.raises(BadSignature):
        signer(KEY_A).verify(token, now=NOW, max_age=None)


def test_a_value_verified_without_max_age_is_accepted_however_old():
    token = signer(KEY_A).sign(b"x", now=NOW)
    assert signer(KEY_A).verify(token, now=NOW + 10**9, max_age=None).payload == b"x"


def test_age_and_clock_skew_bounds_are_inclusive_and_one_second_past_them_refused():
    token = signer(KEY_A).sign(b"x", now=NOW)
    skew = signer(KEY_A).max_clock_skew
    assert signer(KEY_A).verify(token, now=NOW + 10, max_age=10).payload == b"x"
    assert signer(KEY_A).verify(token, now=NOW - skew, max_age=10).payload == b"x"
    for now in (NOW + 11, NOW - skew - 1):
        with pytest.raises(BadSignature):
            signer(KEY_A).verify(token, now=now, max_age=10)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1],
        lambda t: t + "A",
        lambda t: "A" + t,
        lambda t: t.replace(".", "..", 1),
        lambda t: t.split(".", 1)[1],
        lambda t: "",
        lambda t: t + ".x",
    ],
)
def test_mangled_token_raises_the_one_opaque_error(mangle):
    token = signer(KEY_A).sign(b"payload", now=NOW)
    with pytest.raises(BadSignature) as info:
        signer(KEY_A).verify(mangle(token), now=NOW, max_age=10)
    assert "bad signature" in str(info.value)


def test_b64decode_refuses_non_canonical_text():
    assert b64decode(b64encode(b"\xff")) == b"\xff"
    with pytest.raises(BadSignature):
        b64decode("_w=")
    with pytest.raises(BadSignature):
        b64decode("_x")


def test_repr_hides_keys():
    assert KEY_A not in repr(signer(KEY_A))


@pytest.mark.parametrize("skew", [-1, float("nan")])
def test_a_clock_skew_no_timestamp_can_exceed_refuses_to_build(skew):
    # NaN compared false with everything: a value stamped any time ahead was accepted.
    with pytest.raises(ConfigError, match="max_clock_skew"):
        Signer(KeyRing(["k" * 32]), purpose="test", max_clock_skew=skew)


def test_a_list_of_keys_instead_of_a_key_ring_refuses_to_build():
    # It passed the length check, then every request that signed or verified answered 500.
    with pytest.raises(ConfigError):
        Signer(["k" * 32], purpose="test")  # type: ignore[arg-type]
