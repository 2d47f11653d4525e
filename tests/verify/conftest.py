"""Helpers: lay out a small project in a temporary folder and run one gate over it."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from daloy_edge.verify import GATES, GateResult, Project, run_gate

TODAY = dt.date(2026, 11, 29)

Layout = Callable[..., Project]


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    """``layout({"pkg/mod.py": "..."}, today=...)`` -> a Project over those files."""

    def make(files: dict[str, str], *, today: dt.date = TODAY, **kwargs: object) -> Project:
        write_files(tmp_path, files)
        return Project(tmp_path, today=today, **kwargs)  # type: ignore[arg-type]

    return make


def gate(project: Project, name: str) -> GateResult:
    """Run one gate by name."""
    return run_gate(project, next(g for g in GATES if g.name == name))


def messages(result: GateResult) -> list[str]:
    return [f"{f.location()} {f.message}" for f in result.findings]
