from __future__ import annotations

import pytest

from daloy_edge import ConfigError
from daloy_edge.verify import Finding, PathWaiver, Status, VerifyConfig
from daloy_edge.verify._waivers import apply_waivers, parse_waiver
from tests.verify.conftest import gate

CODE = "def check(token, other):\n{waiver}    return token == other\n"


def test_parses_gates_and_reason():
    waiver = parse_waiver("x = 1  # verify: allow weak-random, bandit -- fixture data only")
    assert waiver is not None
    assert waiver.gates == {"weak-random", "bandit"}
    assert waiver.reason == "fixture data only"


def test_text_outside_a_comment_is_not_a_waiver():
    assert parse_waiver('msg = "verify: allow bandit -- nope, a string"') is None


def test_waiver_on_the_line_above_with_reason_suppresses(layout):
    waiver = "    # verify: allow secret-comparisons -- both are public test vectors\n"
    result = gate(layout({"app/a.py": CODE.format(waiver=waiver)}), "secret-comparisons")
    assert result.status is Status.PASS
    assert result.detail == "1 files (1 waived)"


def test_waiver_without_reason_waives_nothing_and_says_so(layout):
    waiver = "    # verify: allow secret-comparisons\n"
    result = gate(layout({"app/a.py": CODE.format(waiver=waiver)}), "secret-comparisons")
    assert result.status is Status.FAIL
    assert result.findings[0].message.endswith("(the waiver on line 2 gives no reason)")


def test_waiver_for_another_gate_does_not_apply(layout):
    waiver = "    # verify: allow weak-random -- wrong gate named on purpose\n"
    result = gate(layout({"app/a.py": CODE.format(waiver=waiver)}), "secret-comparisons")
    assert result.status is Status.FAIL


def test_path_waiver_applies_by_glob_and_gate():
    findings = [Finding("tests/keys/a.pem", 1, "private key committed"), Finding("app.py", 1, "x")]
    waiver = PathWaiver(gate="leaked-credentials", path="tests/keys/*.pem", reason="test-only key")
    kept, waived = apply_waivers("leaked-credentials", findings, lambda _: None, [waiver])
    assert (kept, waived) == ([findings[1]], 1)


def test_path_waiver_needs_a_reason():
    with pytest.raises(ConfigError):
        VerifyConfig.from_pyproject(
            {
                "tool": {
                    "daloy-edge": {"verify": {"waive": [{"gate": "g", "path": "p", "reason": ""}]}}
                }
            }
        )


def test_unknown_config_keys_are_rejected():
    with pytest.raises(ConfigError, match="unknown"):
        VerifyConfig.from_pyproject({"tool": {"daloy-edge": {"verify": {"exclud": ["x"]}}}})
