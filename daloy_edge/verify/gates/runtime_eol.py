"""``runtime-eol``: no declared Python version or Lambda runtime is past end of life.

Declared Python versions: the lowest version ``requires-python`` admits in every
pyproject, ``Programming Language :: Python :: 3.x`` classifiers, ``.python-version``
files. Runtimes under ``infra/``: Lambda identifiers (``Runtime: python3.9``,
``runtime = "nodejs18.x"``, CDK ``Runtime.PYTHON_3_9``, ``lambda/python:3.9`` base images),
Cloud Functions ``python39`` and ``python:3.9`` images (judged by CPython's own date).
Dates come from the shipped table ``data/runtime_eol.json`` and are compared with today;
a version within 180 days of its date is noted but passes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from importlib import resources

from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project

__all__ = ["GATE", "eol_table", "lowest_python"]

WARN_DAYS = 180
INFRA_DIR = "infra"
_LAMBDA_ID = re.compile(r"\b(python\d\.\d+|nodejs\d+\.x)\b")
_CDK = re.compile(r"\bRuntime\.(PYTHON|NODEJS)_(\d+)_(\d+|X)\b")
_LAMBDA_IMAGE = re.compile(r"lambda/(python|nodejs):(\d+(?:\.\d+)?)")
_GCF = re.compile(r"\bpython(\d)(\d{2})\b")
_PY_IMAGE = re.compile(r"(?<!lambda/)\bpython:(\d\.\d+)")
_CLASSIFIER = re.compile(r"^Programming Language :: Python :: (\d\.\d+)$")


@lru_cache(maxsize=1)
def eol_table() -> dict[str, dict[str, dt.date]]:
    """The shipped end-of-life table, parsed."""
    raw = json.loads(
        resources.files("daloy_edge.verify").joinpath("data/runtime_eol.json").read_text()
    )
    return {
        family: {k: dt.date.fromisoformat(v) for k, v in dates.items()}
        for family, dates in raw.items()
        if isinstance(dates, dict)
    }


def lowest_python(spec: str) -> str | None:
    """The lowest minor version in the table that a ``requires-python`` spec admits."""
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError:
        match = re.search(r">=?\s*(\d+\.\d+)", spec)
        return match[1] if match else None
    try:
        specifiers = SpecifierSet(spec)
    except InvalidSpecifier:
        return None
    versions = sorted(eol_table()["python"], key=lambda v: tuple(int(p) for p in v.split(".")))
    for version in versions:
        if any(specifiers.contains(f"{version}.{patch}") for patch in (0, 99)):
            return version
    return None


class _Judge:
    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        self.count = 0

    def judge(self, family: str, key: str, what: str, path: str, line: int = 0) -> None:
        date = eol_table()[family].get(key)
        self.count += 1
        if date is None:
            self.notes.append(f"{path}: {what} is not in the end-of-life table")
        elif date <= self.today:
            self.findings.append(Finding(path, line, f"{what}: end of life since {date}"))
        elif (date - self.today).days <= WARN_DAYS:
            days = (date - self.today).days
            self.notes.append(f"{path}: {what}: end of life on {date}, in {days} days")


def _declared_pythons(project: Project, judge: _Judge) -> None:
    for member in project.members:
        where = f"{member.rel}/pyproject.toml".removeprefix("./")
        data = member.pyproject.get("project", {})
        spec = data.get("requires-python")
        if isinstance(spec, str):
            lowest = lowest_python(spec)
            if lowest:
                judge.judge(
                    "python", lowest, f"requires-python {spec!r} admits Python {lowest}", where
                )
        for classifier in data.get("classifiers", []):
            match = _CLASSIFIER.match(str(classifier))
            if match:
                judge.judge("python", match[1], f"classifier Python {match[1]}", where)
    for rel in project.files:
        if rel.rsplit("/", 1)[-1] == ".python-version":
            for number, line in enumerate((project.text(rel) or "").splitlines(), 1):
                match = re.match(r"\s*(\d+\.\d+)", line)
                if match:
                    judge.judge("python", match[1], f"Python {match[1]}", rel, number)


def _infra_runtimes(project: Project, judge: _Judge) -> None:
    for rel in project.files:
        if not rel.startswith(INFRA_DIR + "/"):
            continue
        for number, line in enumerate((project.text(rel) or "").splitlines(), 1):
            lowered = line.lower()
            for match in _LAMBDA_ID.finditer(line):
                if "runtime" in lowered:
                    judge.judge("aws-lambda", match[1], f"Lambda runtime {match[1]}", rel, number)
            for match in _CDK.finditer(line):
                ident = (f"python{match[2]}.{match[3]}" if match[1] == "PYTHON"
                         else f"nodejs{match[2]}.x")  # fmt: skip
                judge.judge("aws-lambda", ident, f"Lambda runtime {ident}", rel, number)
            for match in _LAMBDA_IMAGE.finditer(line):
                ident = (f"python{match[2]}" if match[1] == "python"
                         else f"nodejs{match[2].split('.')[0]}.x")  # fmt: skip
                judge.judge("aws-lambda", ident, f"Lambda base image {match[0]}", rel, number)
            if "runtime" in lowered:
                for match in _GCF.finditer(line):
                    version = f"{match[1]}.{int(match[2])}"
                    judge.judge("python", version, f"runtime {match[0]}", rel, number)
            for match in _PY_IMAGE.finditer(line):
                judge.judge("python", match[1], f"image python:{match[1]}", rel, number)


def check(project: Project) -> Outcome:
    """Compare every declared version with the table and today's date."""
    judge = _Judge(project.today)
    _declared_pythons(project, judge)
    _infra_runtimes(project, judge)
    return Outcome(
        judge.findings, f"{judge.count} declared versions on {project.today}", notes=judge.notes
    )


GATE = Gate("runtime-eol", "declared Python versions and Lambda runtimes are supported", check)
