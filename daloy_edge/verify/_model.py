"""What a gate reports: findings, an outcome, and the result the runner prints."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daloy_edge.verify._project import Project

__all__ = ["Finding", "Gate", "GateResult", "Outcome", "Status"]


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One problem at a place: ``path`` is relative to the project root ("" for the project)."""

    path: str
    line: int
    message: str
    col: int = 0

    def location(self) -> str:
        """``path:line:col``, ``path:line`` or ``path``, whichever is known."""
        if not self.path:
            return "(project)"
        if self.line and self.col:
            return f"{self.path}:{self.line}:{self.col}"
        if self.line:
            return f"{self.path}:{self.line}"
        return self.path


@dataclass(slots=True)
class Outcome:
    """What a gate's check returns: its findings and a short note on what it covered.

    ``skipped`` is set when the gate could not check anything (a missing tool, say);
    a gate that had nothing to look at passes and says so in ``checked`` instead.
    """

    findings: list[Finding] = field(default_factory=list)
    checked: str = ""
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


class Status(enum.StrEnum):
    """How a gate ended."""

    PASS = "pass"  # noqa: S105 -- a status name, not a password
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Gate:
    """A named check over a project."""

    name: str
    summary: str
    check: Callable[[Project], Outcome]


@dataclass(frozen=True, slots=True)
class GateResult:
    """A gate's final word after waivers were applied."""

    name: str
    status: Status
    detail: str
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        """A JSON-ready mapping."""
        return {
            "name": self.name,
            "status": str(self.status),
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
            "findings": [
                {"path": f.path, "line": f.line, "col": f.col, "message": f.message}
                for f in self.findings
            ],
        }
