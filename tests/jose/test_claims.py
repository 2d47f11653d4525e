"""Claims validation against an explicit now."""

from __future__ import annotations

import pytest

from daloy_edge import ConfigError
from daloy_edge.jose import ClaimsPolicy, InvalidToken, validate_claims

NOW = 1_000_000.0
POLICY = ClaimsPolicy(issuer="https://idp", audience=("api", "api2"), leeway_s=30)


def claims(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"iss": "https://idp", "aud": "api", "exp": NOW + 60}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_valid_claims_pass():
    validate_claims(claims(), POLICY, NOW)


def test_exp_within_the_leeway_passes():
    validate_claims(claims(exp=NOW - 29), POLICY, NOW)


def test_exp_at_the_leeway_boundary_fails():
    with pytest.raises(InvalidToken, match="expired"):
        validate_claims(claims(exp=NOW - 30), POLICY, NOW)


def test_nbf_within_the_leeway_passes():
    validate_claims(claims(nbf=NOW + 30), POLICY, NOW)


def test_nbf_beyond_the_leeway_fails():
    with pytest.raises(InvalidToken, match="nbf"):
        validate_claims(claims(nbf=NOW + 31), POLICY, NOW)


def test_iat_beyond_the_leeway_fails():
    with pytest.raises(InvalidToken, match="iat"):
        validate_claims(claims(iat=NOW + 31), POLICY, NOW)


def test_lifetime_is_measured_from_iat():
    policy = ClaimsPolicy(issuer="https://idp", audience="api", max_lifetime_s=3600)
    validate_claims(claims(iat=NOW - 100, exp=NOW + 3500), policy, NOW)
    with pytest.raises(InvalidToken, match="lifetime"):
        validate_claims(claims(iat=NOW - 100, exp=NOW + 3501), policy, NOW)


def test_lifetime_limit_can_be_disabled():
    policy = ClaimsPolicy(issuer="https://idp", audience="api", max_lifetime_s=None)
    validate_claims(claims(exp=NOW + 10**8), policy, NOW)


def test_any_accepted_audience_in_a_list_passes():
    validate_claims(claims(aud=["other", "api2"]), POLICY, NOW)


def test_empty_audience_list_fails():
    with pytest.raises(InvalidToken, match="aud"):
        validate_claims(claims(aud=[]), POLICY, NOW)


def test_null_nbf_fails():
    with pytest.raises(InvalidToken, match="null"):
        validate_claims(claims(nbf=None) | {"nbf": None}, POLICY, NOW)


def test_non_string_subject_fails():
    with pytest.raises(InvalidToken, match="sub"):
        validate_claims(claims(sub=42), POLICY, NOW)


def test_empty_subject_fails():
    with pytest.raises(InvalidToken, match="sub"):
        validate_claims(claims(sub=""), POLICY, NOW)


def test_required_claims_must_be_present():
    policy = ClaimsPolicy(issuer="https://idp", audience="api", required=("sub", "jti"))
    with pytest.raises(InvalidToken, match="jti"):
        validate_claims(claims(sub="a"), policy, NOW)


def test_issuer_comparison_is_exact():
    with pytest.raises(InvalidToken, match="issuer"):
        validate_claims(claims(iss="https://IDP"), POLICY, NOW)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"issuer": "", "audience": "a"},
        {"issuer": "i", "audience": ""},
        {"issuer": "i", "audience": ()},
        {"issuer": "i", "audience": "a", "leeway_s": -1},
        {"issuer": "i", "audience": "a", "max_lifetime_s": 0},
        # No lifetime exceeds NaN: tokens valid for years passed (None says "no bound").
        {"issuer": "i", "audience": "a", "max_lifetime_s": float("nan")},
        {"issuer": "i", "audience": "a", "required": "sub"},
    ],
)
def test_invalid_policies_refuse_to_build(kwargs):
    with pytest.raises(ConfigError):
        ClaimsPolicy(**kwargs)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("exp", True, "not a number"),
        ("exp", "9999999999", "not a number"),
        ("exp", [NOW + 60], "not a number"),
        ("nbf", float("nan"), "not finite"),
        ("exp", float("inf"), "not finite"),
        ("iat", float("-inf"), "not finite"),
    ],
)
def test_time_claims_must_be_finite_numbers(name: str, value: object, reason: str):
    with pytest.raises(InvalidToken, match=reason):
        validate_claims(claims(**{name: value}), POLICY, NOW)


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [10**400, -(10**400), 2**1024], ids=["1e400", "-1e400", "2^1024"])
def test_integer_times_beyond_any_float_are_refused_as_invalid_tokens(name: str, value: int):
    with pytest.raises(InvalidToken, match=f"{name} is out of range"):
        validate_claims(claims(**{name: value}), POLICY, NOW)


@pytest.mark.parametrize("kind", [int, float])
def test_all_integer_and_all_float_times_meet_the_same_boundaries(kind: type):
    start = int(NOW)
    times = {"iat": kind(start), "nbf": kind(start)}
    validate_claims(claims(exp=kind(start + 60), **times), POLICY, start + 60 + 29)
    with pytest.raises(InvalidToken, match="expired"):
        validate_claims(claims(exp=kind(start + 60), **times), POLICY, start + 60 + 30)
    with pytest.raises(InvalidToken, match="nbf"):
        validate_claims(
            claims(exp=kind(start + 600), iat=kind(start), nbf=kind(start + 31)), POLICY, start
        )


def test_an_out_of_range_integer_among_integer_times_is_named():
    start = int(NOW)
    with pytest.raises(InvalidToken, match="iat is out of range"):
        validate_claims(claims(exp=start + 60, nbf=start, iat=-(10**400)), POLICY, start)


def test_integer_and_float_time_claims_are_read_alike():
    validate_claims(claims(exp=int(NOW) + 60, nbf=NOW - 1.5, iat=int(NOW)), POLICY, NOW)


def test_finite_numbers_are_told_apart_as_math_isfinite_does():
    import math
    import sys

    from daloy_edge.jose._claims import _number

    class Float(float):
        pass

    class Int(int):
        pass

    values: list[float] = [0.0, -0.0, 1.5, 5e-324, sys.float_info.max, -sys.float_info.max]
    values += [math.inf, -math.inf, math.nan, -math.nan, Float(2.5), Float(math.inf), Int(7)]
    for value in values:
        try:
            got = _number({"exp": value}, "exp")
        except InvalidToken:
            assert not math.isfinite(value), value
        else:
            assert math.isfinite(value) and got == float(value), value
