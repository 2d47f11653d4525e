"""``dep-licenses``: every locked runtime dependency is under an allowed licence.

Runtime means what the workspace's distributions and all their extras pull in; dev groups
are left out. Licences come from the installed distributions' metadata
(``License-Expression``, else the ``License`` field, else trove classifiers), read from the
project's ``.venv`` when it has one. The allow-list (``allowed-licenses``) defaults to
permissive licences plus MPL-2.0 (file-level copyleft: certifi uses it).
"""

from __future__ import annotations

from daloy_edge.verify._licenses import (
    DEFAULT_ALLOWED,
    allowed,
    installed_distributions,
    license_expression,
)
from daloy_edge.verify._lock import Lock
from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project

__all__ = ["GATE"]


def check(project: Project) -> Outcome:
    """Check the licence of every runtime dependency against the allow-list."""
    if project.lock is None:
        return Outcome(checked="no uv.lock (the lockfile gate reports it)")
    lock = Lock(project.lock)
    allow = project.config.allowed_licenses or DEFAULT_ALLOWED
    installed = installed_distributions(project.site_packages)
    here = {(p.name, p.version) for p in lock.runtime(here_only=True)}
    packages = lock.runtime()
    findings: list[Finding] = []
    notes: list[str] = []
    for package in packages:
        label = f"{package.name} {package.version}"
        dist = installed.get(package.name)
        if dist is None:
            if (package.name, package.version) in here:
                findings.append(
                    Finding(
                        "uv.lock",
                        0,
                        f"{label}: not installed, so its licence cannot be "
                        "read (uv sync --all-extras)",
                    )
                )
            else:
                notes.append(f"{label}: not for this platform, licence not checked")
            continue
        expression = license_expression(dist)
        if expression is None:
            findings.append(Finding("uv.lock", 0, f"{label}: declares no licence"))
        elif not allowed(expression, allow):
            findings.append(Finding("uv.lock", 0, f"{label}: licence {expression} is not allowed"))
    return Outcome(findings, f"{len(packages)} runtime dependencies", notes=notes)


GATE = Gate("dep-licenses", "runtime dependency licences are on the allow-list", check)
