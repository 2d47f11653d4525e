"""The positional ``traceparent`` and X-Ray parsers against the regexes they replaced."""

from __future__ import annotations

import random
import re

import pytest

from daloy_edge.observability._trace import _canonical_xray, parse_traceparent, parse_xray

# The patterns and logic the parsers used before; they are the oracle here.
_TRACEPARENT = r"[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})"
_XRAY_CANONICAL = (
    r"Root=1-([0-9a-f]{8})-([0-9a-f]{24})(?:;Parent=([0-9a-f]{16}))?(?:;Sampled=([01]))?"
)
_XRAY_ROOT = r"1-([0-9a-f]{8})-([0-9a-f]{24})"
_HEX16 = r"[0-9a-f]{16}"
ZERO_TRACE, ZERO_SPAN = "0" * 32, "0" * 16


def oracle_traceparent(value: str) -> tuple[str, str, int] | None:
    if len(value) < 55 or len(value) > 512:
        return None
    version = value[:2]
    if version == "00" and len(value) != 55:
        return None
    if version == "ff" or (len(value) > 55 and value[55] != "-"):
        return None
    match = re.match(_TRACEPARENT, value)
    if match is None:
        return None
    trace_id, parent_id, flags = match.groups()
    if trace_id == ZERO_TRACE or parent_id == ZERO_SPAN:
        return None
    return trace_id, parent_id, int(flags, 16) & 1


def oracle_canonical(value: str) -> tuple[str, str | None, int] | None:
    match = re.fullmatch(_XRAY_CANONICAL, value)
    if match is None:
        return None
    epoch, unique, parent, sampled = match.groups()
    if epoch + unique == ZERO_TRACE:
        return None
    return epoch + unique, None if parent == ZERO_SPAN else parent, int(sampled != "0")


def oracle_xray(value: str) -> tuple[str, str | None, int] | None:
    if len(value) > 1024 or "," in value:
        return None
    canonical = oracle_canonical(value)
    if canonical is not None:
        return canonical
    fields: dict[str, str] = {}
    for part in value.split(";"):
        name, _, val = part.strip().partition("=")
        key = name.strip().lower()
        if key in fields and key in ("root", "parent", "sampled"):
            return None
        fields[key] = val.strip()
    root = re.fullmatch(_XRAY_ROOT, fields.get("root", ""))
    if root is None or root.group(1) + root.group(2) == ZERO_TRACE:
        return None
    parent = fields.get("parent")
    if parent is not None and (not re.fullmatch(_HEX16, parent) or parent == ZERO_SPAN):
        parent = None
    return root.group(1) + root.group(2), parent, 1 if fields.get("sampled", "1") != "0" else 0


HEX = "0123456789abcdef"
# What a mutation may put in: hex in both cases, separators, the letters of the field
# names, whitespace, a trailing-newline candidate, non-ASCII (digits included), and "h"
# (what the canonical X-Ray check writes a hex digit as).
NOISE = HEX + "ABCDEFghxz-;= \t\n\r\x00RootParentSampled01\u0661\uff10é\u2028\ud800"


def _hex(rng: random.Random, size: int) -> str:
    if rng.random() < 0.05:
        return "0" * size
    return "".join(rng.choices(HEX, k=size))


def _traceparent(rng: random.Random) -> str:
    version = rng.choice(["00", "00", "01", "cc", "ff", _hex(rng, 2)])
    value = f"{version}-{_hex(rng, 32)}-{_hex(rng, 16)}-{_hex(rng, 2)}"
    if rng.random() < 0.3:
        value += rng.choice(["-", "-x", "-abc-def", "x", "\n"])
    return value


def _xray(rng: random.Random) -> str:
    value = f"Root=1-{_hex(rng, 8)}-{_hex(rng, 24)}"
    if rng.random() < 0.7:
        value += f";Parent={_hex(rng, 16)}"
    if rng.random() < 0.7:
        value += f";Sampled={rng.choice('01')}"
    if rng.random() < 0.1:
        value += rng.choice([";Lineage=a:1", ";", "\n", " ", ";Sampled=1"])
    return value


def _mutate(rng: random.Random, value: str) -> str:
    for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
        if not value:
            break
        at = rng.randrange(len(value))
        action = rng.randrange(5)
        if action == 0:
            value = value[:at] + rng.choice(NOISE) + value[at + 1 :]
        elif action == 1:
            value = value[:at] + value[at + 1 :]
        elif action == 2:
            value = value[:at] + rng.choice(NOISE) + value[at:]
        elif action == 3:
            value = value[:at]
        else:
            value = value.upper() if rng.random() < 0.5 else value.replace(";", "; ")
    return value


def _random(rng: random.Random) -> str:
    return "".join(rng.choices(NOISE, k=rng.choice([0, 35, 40, 50, 55, 64, 74, 80])))


@pytest.mark.parametrize("seed", range(4))
def test_traceparent_agrees_with_the_regex(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(6000):
        value = _mutate(rng, _traceparent(rng)) if rng.random() < 0.9 else _random(rng)
        assert parse_traceparent(value) == oracle_traceparent(value), repr(value)


@pytest.mark.parametrize("seed", range(4))
def test_xray_agrees_with_the_regexes(seed: int) -> None:
    rng = random.Random(100 + seed)
    for _ in range(6000):
        value = _mutate(rng, _xray(rng)) if rng.random() < 0.9 else _random(rng)
        assert _canonical_xray(value) == oracle_canonical(value), repr(value)
        assert parse_xray(value) == oracle_xray(value), repr(value)


def test_the_inputs_reach_both_outcomes() -> None:
    rng = random.Random(7)
    xrays = [_mutate(rng, _xray(rng)) for _ in range(2000)]
    parents = [_mutate(rng, _traceparent(rng)) for _ in range(2000)]
    canonical = sum(oracle_canonical(v) is not None for v in xrays)
    general = sum(oracle_canonical(v) is None and oracle_xray(v) is not None for v in xrays)
    valid = sum(oracle_traceparent(v) is not None for v in parents)
    assert canonical > 200 and general > 200 and 200 < valid < 1800


@pytest.mark.parametrize(
    "value",
    [
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\n",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Parent=53995c3f42cd8ad8",
        "Root=1-5759e988-bd862e3fe1be46a99427279\u0663;Sampled=1",
        "Root=1-5759E988-bd862e3fe1be46a994272793",
        "Root=1-5759h988-bd862e3fe1be46a994272793",
        "Root=2-5759e988-bd862e3fe1be46a994272793",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Pbrcnt=53995c3f42cd8ad8",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sbmplcd=1",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=a",
    ],
)
def test_odd_spellings_leave_the_canonical_form(value: str) -> None:
    assert _canonical_xray(value) is None
    assert parse_xray(value) == oracle_xray(value)
