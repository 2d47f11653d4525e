"""``iac``: checkov finds no failed check in ``infra/``, and every skip has a reason.

checkov is large and its dependencies clash with application code, so it runs from its
own environment: ``$DALOY_CHECKOV`` (a command line) when set, else a ``checkov`` on PATH
or beside this interpreter, else ``uv tool run --from checkov==<pinned> checkov`` (uv
installs it from PyPI once and caches it). It runs with platform downloads and the
update check turned off, and without the helm/kustomize frameworks (they shell out to
kubectl and helm), so it opens no network connection at all.

Waivers: checkov's own skip comments (``#checkov:skip=CKV_AWS_18:the reason`` or
CloudFormation ``Metadata: checkov: skip: [{id, comment}]``) must carry a comment; a skip
without one fails the gate. ``# verify: allow iac -- reason`` works on the flagged line too.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project

__all__ = ["CHECKOV_VERSION", "GATE", "checkov_command"]

CHECKOV_VERSION = "3.3.30"
INFRA_DIR = "infra"
_NO_REASON = {"", "no comment provided"}
# These frameworks run kubectl/helm, which try to reach a cluster on 127.0.0.1:8080.
_SHELLING_OUT = ("helm", "kustomize")


def checkov_command() -> list[str] | None:
    """How to run checkov here, or None when nothing can provide it."""
    configured = os.environ.get("DALOY_CHECKOV")
    if configured:
        return shlex.split(configured)
    beside = Path(sys.executable).with_name("checkov")
    found = shutil.which("checkov") or (str(beside) if beside.is_file() else None)
    if found:
        return [found]
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv:
        return [uv, "tool", "run", "--from", f"checkov=={CHECKOV_VERSION}", "checkov"]
    return None


def _reports(stdout: str) -> list[dict[str, Any]]:
    start = min((i for i in (stdout.find("["), stdout.find("{")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError("checkov printed no JSON")
    data = json.loads(stdout[start:])
    return data if isinstance(data, list) else [data]


def _findings(project: Project, reports: list[dict[str, Any]]) -> tuple[list[Finding], int]:
    findings: list[Finding] = []
    passed = 0
    for report in reports:
        results = report.get("results", {})
        passed += len(results.get("passed_checks", []))
        for check in results.get("failed_checks", []):
            findings.append(_finding(project, check, check.get("check_name", "")))
        for path in results.get("parsing_errors", []):
            findings.append(Finding(_relative(project, str(path)), 0, "checkov could not parse it"))
        for check in results.get("skipped_checks", []):
            result = check.get("check_result") or {}
            comment = str(result.get("suppress_comment") or check.get("suppress_comment") or "")
            comment = comment.strip()
            if comment.lower() in _NO_REASON:
                findings.append(_finding(project, check, "skipped without a written reason"))
    return findings, passed


def _relative(project: Project, path: str) -> str:
    try:
        return (project.root / path).resolve().relative_to(project.root).as_posix()
    except ValueError:
        return f"{INFRA_DIR}/{path.lstrip('/')}"


def _finding(project: Project, check: dict[str, Any], message: str) -> Finding:
    rel = _relative(project, str(check.get("file_abs_path") or check.get("file_path") or ""))
    lines = check.get("file_line_range") or [0]
    resource = check.get("resource", "")
    return Finding(rel, int(lines[0] or 0), f"{check.get('check_id')} {message} ({resource})")


def check(project: Project) -> Outcome:
    """Run checkov over ``infra/`` and report failed or unexplained skipped checks."""
    if not any(rel.startswith(INFRA_DIR + "/") for rel in project.files):
        return Outcome(checked=f"nothing to scan (no {INFRA_DIR}/ directory)")
    command = checkov_command()
    if command is None:
        return Outcome(
            [Finding(INFRA_DIR, 0, "checkov not found: install uv or set DALOY_CHECKOV")]
        )
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CKV_SKIP_PACKAGE_UPDATE_CHECK="TRUE",
               UV_PYTHON_DOWNLOADS="never", NO_COLOR="1")  # fmt: skip
    args = [*command, "-d", INFRA_DIR, "-o", "json", "--skip-download", "--compact",
            "--skip-framework", *_SHELLING_OUT]  # fmt: skip
    try:
        done = subprocess.run(  # noqa: S603 -- fixed tool, argument list, no shell
            args,
            cwd=project.root,
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Outcome([Finding(INFRA_DIR, 0, f"checkov did not run: {exc}")])
    try:
        reports = _reports(done.stdout)
    except ValueError as exc:
        tail = (done.stderr or done.stdout).strip()[-300:]
        return Outcome([Finding(INFRA_DIR, 0, f"checkov failed ({exc}): {tail}")])
    findings, passed = _findings(project, reports)
    return Outcome(findings, f"checkov {len(reports)} framework(s), {passed} checks passed")


GATE = Gate("iac", "checkov over infra/ with no failed checks", check)
