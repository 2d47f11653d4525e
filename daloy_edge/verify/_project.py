"""The project under verification: its files, parsed sources, pyproject and lock, cached."""

from __future__ import annotations

import ast
import datetime as dt
import fnmatch
import glob
import io
import shutil
import subprocess
import sys
import tokenize
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from daloy_edge.verify._config import VerifyConfig

__all__ = ["Member", "Project", "SourceFile"]

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".tox",
        ".nox",
        ".eggs",
        "build",
        "dist",
        "site-packages",
        ".terraform",
        ".aws-sam",
        ".wrangler",
    }
)
MAX_TEXT_BYTES = 2_000_000
_TEST_DIRS = frozenset({"tests", "test", "bench", "benchmarks"})


@dataclass(slots=True)
class SourceFile:
    """A Python file with its text and, when it parses, its syntax tree."""

    rel: str
    text: str
    tree: ast.Module | None
    error: str | None

    @property
    def lines(self) -> list[str]:
        """The text split into lines (1-based line ``n`` is ``lines[n - 1]``)."""
        return self.text.splitlines()


@dataclass(frozen=True, slots=True)
class Member:
    """A distribution in the workspace: its folder, pyproject and import packages."""

    rel: str
    pyproject: dict[str, Any]
    modules: tuple[str, ...]

    @property
    def name(self) -> str:
        """The distribution name from ``[project] name`` ("" when absent)."""
        project = self.pyproject.get("project", {})
        return str(project.get("name", "")) if isinstance(project, dict) else ""


class Project:
    """A folder to verify; files and parses are computed once and shared by the gates."""

    def __init__(
        self,
        root: Path | str,
        *,
        today: dt.date | None = None,
        config: VerifyConfig | None = None,
        sbom_out: Path | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.sbom_out = sbom_out
        self.today = today or dt.datetime.now(dt.UTC).date()
        self.config = config or VerifyConfig.from_pyproject(self.pyproject)
        self.cache: dict[str, object] = {}
        self._texts: dict[str, str | None] = {}
        self._sources: dict[str, SourceFile] = {}

    @cached_property
    def pyproject(self) -> dict[str, Any]:
        """The root ``pyproject.toml`` ({} when there is none)."""
        return _load_toml(self.root / "pyproject.toml") or {}

    @cached_property
    def lock(self) -> dict[str, Any] | None:
        """The parsed ``uv.lock``, or None."""
        return _load_toml(self.root / "uv.lock")

    @cached_property
    def files(self) -> tuple[str, ...]:
        """Every file of the project as a relative POSIX path, minus caches, venvs, excludes."""
        listed = _git_files(self.root)
        names = listed if listed is not None else _walk(self.root)
        kept = [rel for rel in names if self._keep(rel)]
        return tuple(sorted(kept))

    def _keep(self, rel: str) -> bool:
        parts = PurePosixPath(rel).parts
        if any(p in SKIP_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
            return False
        if any(
            fnmatch.fnmatch(rel, pat) or rel.startswith(pat.rstrip("/") + "/")
            for pat in self.config.exclude
        ):
            return False
        return (self.root / rel).is_file()

    def is_test(self, rel: str) -> bool:
        """True for code that never ships: under ``tests/`` or ``bench/`` (and ``test/``,
        ``benchmarks/``), ``test_*.py``, ``*_test.py``, ``conftest.py``. The code gates skip it."""
        path = PurePosixPath(rel)
        if any(p in _TEST_DIRS for p in path.parts[:-1]):
            return True
        name = path.name
        return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")

    def text(self, rel: str) -> str | None:
        """The file's text, or None for binary, undecodable or very large files (a Python
        file is read as Python reads it: in the encoding its coding line names, any size)."""
        if rel not in self._texts:
            self._texts[rel] = _read_text(self.root / rel, python=rel.endswith(".py"))
        return self._texts[rel]

    def text_files(self) -> list[tuple[str, str]]:
        """(path, text) for every text file."""
        out = []
        for rel in self.files:
            text = self.text(rel)
            if text is not None:
                out.append((rel, text))
        return out

    def python_files(self, *, include_tests: bool = False) -> list[SourceFile]:
        """Parsed Python sources (tests left out unless asked for)."""
        return [
            self.source(rel)
            for rel in self.files
            if rel.endswith(".py") and (include_tests or not self.is_test(rel))
        ]

    def source(self, rel: str) -> SourceFile:
        """One parsed Python file (a syntax error is kept in ``error``, not raised)."""
        if rel not in self._sources:
            text = self.text(rel)
            try:
                # Read as Python reads it: of any size, in the encoding its coding line
                # names, after a BOM (a file that was no UTF-8 text under the size limit
                # was read as empty, and passed every gate).
                if text is None:
                    code: str | bytes = (self.root / rel).read_bytes()
                else:
                    code = text.removeprefix("\ufeff")
                tree: ast.Module | None = ast.parse(code, filename=rel)
                error = None
            except (SyntaxError, ValueError) as exc:
                tree, error = None, f"cannot parse: {exc}"
            except OSError as exc:
                tree, error = None, f"cannot read: {exc}"
            self._sources[rel] = SourceFile(rel=rel, text=text or "", tree=tree, error=error)
        return self._sources[rel]

    @cached_property
    def members(self) -> tuple[Member, ...]:
        """The root distribution and every uv workspace member that has a pyproject."""
        out = [Member(".", self.pyproject, self._modules_of(self.root, self.pyproject))]
        tool = self.pyproject.get("tool", {})
        workspace = tool.get("uv", {}).get("workspace", {}) if isinstance(tool, dict) else {}
        for pattern in workspace.get("members", []) if isinstance(workspace, dict) else []:
            for found in sorted(glob.glob(str(self.root / pattern))):
                data = _load_toml(Path(found) / "pyproject.toml")
                if data is not None:
                    rel = Path(found).resolve().relative_to(self.root).as_posix()
                    out.append(Member(rel, data, self._modules_of(Path(found), data)))
        return tuple(out)

    @staticmethod
    def _modules_of(folder: Path, data: dict[str, Any]) -> tuple[str, ...]:
        wheel = data.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
        packages = wheel.get("wheel", {}).get("packages") if isinstance(wheel, dict) else None
        if isinstance(packages, list) and packages:
            return tuple(PurePosixPath(p).name for p in packages if isinstance(p, str))
        name = str(data.get("project", {}).get("name", "")).replace("-", "_").replace(".", "_")
        for base in (folder, folder / "src"):
            if name and (
                (base / name / "__init__.py").is_file() or (base / f"{name}.py").is_file()
            ):
                return (name,)
        return ()

    def module_dir(self, module: str) -> str | None:
        """The relative folder of an importable package of a member, if it is in the project."""
        for member in self.members:
            for base in (member.rel, f"{member.rel}/src"):
                candidate = PurePosixPath(base) / module.replace(".", "/")
                if (self.root / candidate / "__init__.py").is_file():
                    return PurePosixPath(candidate).as_posix().removeprefix("./")
        return None

    @cached_property
    def python(self) -> str:
        """The interpreter of the project: its ``.venv`` if it has one, else this one."""
        for candidate in (".venv/bin/python", ".venv/Scripts/python.exe"):
            path = self.root / candidate
            if path.is_file():
                return str(path)
        return sys.executable

    @cached_property
    def site_packages(self) -> list[str] | None:
        """The project venv's site-packages, or None to mean this interpreter's path."""
        venv = self.root / ".venv"
        if not venv.is_dir() or Path(sys.prefix).resolve() == venv.resolve():
            return None
        found = glob.glob(str(venv / "lib" / "python*" / "site-packages"))
        found += glob.glob(str(venv / "Lib" / "site-packages"))
        return found or None


def _load_toml(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return None


def _read_text(path: Path, *, python: bool = False) -> str | None:
    try:
        if not python and path.stat().st_size > MAX_TEXT_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if python:
        # Python runs a source of any size, in the encoding its coding line names: one past
        # the limit or in latin-1 was scanned by no gate (a bidi override or a key in it).
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            return data.decode(encoding)
        except (SyntaxError, LookupError, UnicodeDecodeError):
            return None
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _git_files(root: Path) -> list[str] | None:
    git = shutil.which("git")
    if git is None or not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(  # noqa: S603 -- fixed tool, argument list, no shell
            [git, "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return [p for p in done.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def _walk(root: Path) -> list[str]:
    out: list[str] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        if folder != root and (folder / "pyvenv.cfg").exists():
            continue
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name not in SKIP_DIRS and not entry.name.endswith(".egg-info"):
                    stack.append(entry)
            elif entry.is_file():
                out.append(entry.relative_to(root).as_posix())
    return out
