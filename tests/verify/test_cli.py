from __future__ import annotations

import json

from daloy_edge.cli import main
from tests.verify.conftest import write_files

PLANTED = {"app/a.py": "def f(token, other):\n    return token == other\n"}


def test_prints_one_line_per_gate_and_fails_on_a_finding(tmp_path, capsys):
    write_files(tmp_path, PLANTED)
    code = main(["verify", str(tmp_path), "--only", "secret-comparisons,weak-random"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[1] == "  FAIL  secret-comparisons  1 finding"
    assert out[2].startswith("        app/a.py:2:12  `token` looks secret-derived")
    assert out[3] == "  pass  weak-random         1 files"
    assert out[4].startswith("2 gates: 1 passed, 1 failed, 0 skipped in ")


def test_exit_zero_when_every_selected_gate_passes(tmp_path, capsys):
    write_files(tmp_path, {"app/a.py": "x = 1\n"})
    assert main(["verify", str(tmp_path), "--only", "secret-comparisons"]) == 0


def test_json_output_is_machine_readable(tmp_path, capsys):
    write_files(tmp_path, PLANTED)
    main(["verify", str(tmp_path), "--json", "--only", "secret-comparisons"])
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    gate = document["gates"][0]
    assert (gate["name"], gate["status"]) == ("secret-comparisons", "fail")
    assert gate["findings"][0] | {"message": ""} == {
        "path": "app/a.py",
        "line": 2,
        "col": 12,
        "message": "",
    }


def test_unknown_gate_is_a_usage_error(tmp_path, capsys):
    assert main(["verify", str(tmp_path), "--only", "no-such-gate"]) == 2
    assert "unknown gate(s): no-such-gate" in capsys.readouterr().err


def test_skip_leaves_a_gate_out(tmp_path, capsys):
    write_files(tmp_path, PLANTED)
    code = main(["verify", str(tmp_path), "--only", "secret-comparisons,weak-random",
                 "--skip", "secret-comparisons"])  # fmt: skip
    assert code == 0
    assert "secret-comparisons" not in capsys.readouterr().out


def test_list_names_every_gate(capsys):
    assert main(["verify", "--list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert len(names) == 19
    assert names[:2] == ["secret-comparisons", "weak-random"]
    assert names[-2:] == ["iac", "bandit"]
