"""``bandit``: Bandit's own checks over the non-test code, medium severity and confidence up.

This complements the AST gates above (it knows many more APIs, with less context).
``# nosec`` is ignored so that every waiver goes through ``# verify: allow bandit --
<reason>``. Runs ``python -m bandit`` from the project's interpreter, falling back to this
one; skipped, and said so, when neither has Bandit (``daloy-edge[verify]`` brings it).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project

__all__ = ["GATE"]


def _interpreter(project: Project) -> str | None:
    probe = [project.python, "-c", "import bandit"]
    try:
        if (
            subprocess.run(  # noqa: S603 -- fixed tool, argument list, no shell
                probe, capture_output=True, timeout=60, check=False
            ).returncode
            == 0
        ):
            return project.python
    except (OSError, subprocess.TimeoutExpired):
        pass
    return sys.executable if importlib.util.find_spec("bandit") else None


def check(project: Project) -> Outcome:
    """Run Bandit and turn its results into findings."""
    files = [s.rel for s in project.python_files()]
    if not files:
        return Outcome(checked="no Python files")
    python = _interpreter(project)
    if python is None:
        return Outcome(skipped="bandit is not installed (pip install 'daloy-edge[verify]')")
    args = [python, "-m", "bandit", "-q", "-f", "json", "--ignore-nosec", "-ll", "-ii", *files]
    try:
        done = subprocess.run(  # noqa: S603 -- fixed tool, argument list, no shell
            args, cwd=project.root, capture_output=True, text=True, timeout=600, check=False
        )
        report = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        return Outcome([Finding("", 0, f"bandit did not run: {exc}")])
    findings = [
        Finding(
            str(item["filename"]).removeprefix("./"),
            int(item["line_number"]),
            f"{item['test_id']} {item['issue_text']}",
            int(item.get("col_offset", -1)) + 1,
        )
        for item in report.get("results", [])
    ]
    findings += [
        Finding(str(err.get("filename", "")), 0, f"bandit could not scan: {err.get('reason')}")
        for err in report.get("errors", [])
    ]
    return Outcome(findings, f"{len(files)} files")


GATE = Gate("bandit", "Bandit finds nothing of medium severity or worse", check)
