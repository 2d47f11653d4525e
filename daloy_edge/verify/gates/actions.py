"""``actions-pinned``: CI workflows and workflow templates pin every action by commit SHA.

A tag such as ``actions/checkout@v4`` can be moved by whoever controls the repository
(tj-actions/changed-files, March 2025); a full 40-hex commit cannot. Checked: every
``uses:`` in GitHub workflow, composite-action and template YAML files (any YAML file under
``.github/`` or with a ``jobs:``/``runs:`` section). Local actions (``./path``) are fine;
``docker://`` images must be pinned by ``@sha256:`` digest; expressions (``${{ }}``) cannot
be pinned at all.
"""

from __future__ import annotations

import re

from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project

__all__ = ["GATE"]

_USES = re.compile(r"^\s*(?:-\s+)?uses\s*:\s*(?P<value>.*)$")
_SECTION = re.compile(r"^(jobs|runs)\s*:", re.MULTILINE)
_SHA = re.compile(r"^[0-9a-f]{40}$")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _is_workflow(rel: str, text: str) -> bool:
    if not rel.endswith((".yml", ".yaml")):
        return False
    return rel.startswith(".github/") or "/.github/" in rel or bool(_SECTION.search(text))


def _value(raw: str) -> str:
    value = raw.split(" #", 1)[0].strip()
    if value[:1] in ("'", '"'):
        value = value[1:].split(value[0], 1)[0]
    return value


def _problem(value: str) -> str | None:
    if not value or value.startswith("./"):
        return None
    if "${{" in value:
        return f"`{value}` is chosen at run time and cannot be pinned"
    if value.startswith("docker://"):
        return None if _DIGEST.search(value) else f"`{value}` is not pinned by @sha256 digest"
    name, sep, ref = value.rpartition("@")
    if not sep:
        return f"`{value}` has no ref: pin it to a full commit SHA"
    if not _SHA.match(ref):
        return f"`{name}@{ref}` is pinned to a movable ref: use the full commit SHA"
    return None


def check(project: Project) -> Outcome:
    """Check every ``uses:`` in workflow-like YAML files."""
    findings = []
    scanned = 0
    for rel, text in project.text_files():
        if not _is_workflow(rel, text):
            continue
        scanned += 1
        for number, line in enumerate(text.splitlines(), 1):
            match = _USES.match(line)
            if match:
                problem = _problem(_value(match["value"]))
                if problem:
                    findings.append(Finding(rel, number, problem))
    what = f"{scanned} workflow files" if scanned else "no workflow files"
    return Outcome(findings, what)


GATE = Gate("actions-pinned", "CI workflows pin every action by full commit SHA", check)
