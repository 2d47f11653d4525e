from __future__ import annotations

import subprocess

from daloy_edge.verify import GATES, Gate, Outcome, Project, Status, run_gate
from daloy_edge.verify._project import MAX_TEXT_BYTES
from tests.verify.conftest import write_files


def test_a_crashing_gate_fails_instead_of_stopping_the_run(tmp_path):
    def broken(project: Project) -> Outcome:
        raise RuntimeError("boom")

    result = run_gate(Project(tmp_path), Gate("broken", "always crashes", broken))
    assert result.status is Status.FAIL
    assert result.findings[0].message == "gate crashed: RuntimeError: boom"


def test_a_gate_that_cannot_run_is_reported_as_skipped(tmp_path):
    def unavailable(project: Project) -> Outcome:
        return Outcome(skipped="tool missing")

    result = run_gate(Project(tmp_path), Gate("needs-tool", "", unavailable))
    assert (result.status, result.detail) == (Status.SKIP, "tool missing")


def test_files_leave_out_venvs_caches_and_configured_excludes(tmp_path):
    write_files(
        tmp_path,
        {
            "app/a.py": "",
            ".venv/lib/x.py": "",
            "node_modules/m/index.js": "",
            "vendor/v.py": "",
            "custom-env/pyvenv.cfg": "",
            "custom-env/lib/y.py": "",
            "pyproject.toml": '[tool.daloy-edge.verify]\nexclude = ["vendor"]\n',
        },
    )
    assert Project(tmp_path).files == ("app/a.py", "pyproject.toml")


def test_git_ignored_files_are_not_scanned(tmp_path):
    write_files(tmp_path, {"app/a.py": "", "scratch.py": "", ".gitignore": "scratch.py\n"})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert Project(tmp_path).files == (".gitignore", "app/a.py")


def test_tests_and_benchmarks_count_as_unshipped_code(tmp_path):
    project = Project(tmp_path)
    assert project.is_test("tests/core/helpers.py")
    assert project.is_test("bench/case_x.py")
    assert project.is_test("pkg/test_mod.py")
    assert not project.is_test("daloy_edge/testing.py")


def test_sources_are_parsed_as_python_reads_them(tmp_path):
    """A coding line other than UTF-8, a file past the text size limit and one whose
    bytes are not Python (NUL) were read as empty: every AST gate passed them unread."""
    code = "def ok(signature, expected):\n    return signature == expected\n"
    files = {
        "app/latin.py": ("# -*- coding: latin-1 -*-\n# caf\xe9\n" + code).encode("latin-1"),
        "app/big.py": (code + "# " + "x" * MAX_TEXT_BYTES + "\n").encode(),
        "app/bom.py": b"\xef\xbb\xbf" + code.encode(),
        "app/nul.py": b"x = 1\0\n",
    }
    for rel, data in files.items():
        (tmp_path / "app").mkdir(exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    project = Project(tmp_path)
    trees = {rel: project.source(rel).tree for rel in files}
    assert all(trees[rel] is not None for rel in ("app/latin.py", "app/big.py", "app/bom.py"))
    assert trees["app/nul.py"] is None
    assert (project.source("app/nul.py").error or "").startswith("cannot parse")
    gate = next(g for g in GATES if g.name == "secret-comparisons")
    assert sorted(f.path for f in run_gate(project, gate).findings) == [
        "app/big.py",
        "app/bom.py",
        "app/latin.py",
        "app/nul.py",
    ]


def test_text_gates_read_python_files_of_any_size_in_their_declared_encoding(tmp_path):
    """A Python file past the text size limit, or with a latin-1 coding line, was scanned by
    no text gate: a bidi override or a committed key in it passed."""
    (tmp_path / "app").mkdir()
    big = 'ok = "admin\u202e"\n# ' + "x" * MAX_TEXT_BYTES + "\n"
    (tmp_path / "app" / "big.py").write_text(big, encoding="utf-8")
    latin = '# -*- coding: latin-1 -*-\n# caf\xe9\nKEY = "' + "AKIA" + 'Q7W2ZJ5XKD3N8VHP"\n'
    (tmp_path / "app" / "latin.py").write_bytes(latin.encode("latin-1"))
    (tmp_path / "app" / "data.txt").write_text("x" * (MAX_TEXT_BYTES + 1), encoding="utf-8")
    project = Project(tmp_path)
    assert [rel for rel, _ in project.text_files()] == ["app/big.py", "app/latin.py"]
    assert project.text("app/latin.py") == latin
    found = {
        name: [f.location() for f in run_gate(project, g).findings]
        for g in GATES
        if (name := g.name) in ("invisible-unicode", "leaked-credentials")
    }
    assert found == {
        "invisible-unicode": ["app/big.py:1:12"],
        "leaked-credentials": ["app/latin.py:3:8"],
    }
