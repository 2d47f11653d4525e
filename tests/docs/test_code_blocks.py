"""Every code block in README.md and docs/ is executed (or, where it cannot be, verified).

The rule, per block language:

- ``python``: runs. The blocks of one document share one namespace and run in order,
  in a scratch directory that looks like a clone of this repository (below), with the
  repository importable. A block that raises fails the document.
- ``sh`` / ``bash`` / ``shell`` / ``console``: runs under ``bash -e`` in a scratch
  directory that looks like a clone of this repository (its top-level entries are
  symlinked, so commands can name ``infra/aws/template.yaml``; whatever a command
  creates lands in the scratch directory). This checkout's ``daloy-edge`` and ``python``
  are first on PATH, no ``DALOY_*`` variable is inherited, and ``uv run X`` runs ``X``
  directly. Each command must exit 0, unless its line ends with a comment saying
  ``exit status N``.
  Only commands that cannot run here are verified instead of run: those that start a
  long-lived server (``make dev``, ``daloy-edge dev``, ``uvicorn``,
  ``functions-framework``, ``wrangler dev``), deploy to a cloud (``sam``, ``wrangler``,
  ``terraform``, ``gcloud``), install packages (``pip install``, ``uv add``), run the
  whole suite, the supply-chain gate or the benchmarks for minutes (``make test``,
  ``daloy-edge verify``, ``make bench``, ``python -m bench``), or talk to a server the
  block started (``curl`` and every command after a server start). Verified means
  well-formed where it would run (``tests/docs/verify_command.py``): the Makefile target
  exists; the files, modules and entry points named exist; template parameters and
  Terraform variables are declared; secrets are variables the app reads; packages are
  in ``uv.lock``; ``daloy-edge`` arguments parse with the real parser.
- ``yaml``, ``toml``, ``json``: parsed.
- Anything else, or a block without a language, fails: give it one of the above.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.docs.markdown import ROOT, Block, blocks, documents
from tests.docs.shell import to_script

PYTHON = {"python", "py"}
SHELL = {"sh", "bash", "shell", "console"}
DATA = {"yaml", "yml", "toml", "json"}
NOT_SHARED = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".daloy-edge-dev"}

ALL_BLOCKS = [block for document in documents() for block in blocks(document)]


def _ids(items: list[Block]) -> list[str]:
    return [block.where for block in items]


def clone_view(directory: Path) -> Path:
    """A directory whose top-level entries are symlinks to this repository's."""
    directory.mkdir(parents=True, exist_ok=True)
    for entry in ROOT.iterdir():
        if entry.name not in NOT_SHARED:
            (directory / entry.name).symlink_to(entry)
    return directory


def shell_environment() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DALOY_") and name not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DOCS_PYTHON"] = sys.executable
    return env


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (``!Ref``, ``!Sub``) accepted."""


_CloudFormationLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_has_a_language_this_test_runs(document: Path) -> None:
    unknown = [b.where for b in blocks(document) if b.lang not in PYTHON | SHELL | DATA]
    assert unknown == [], "blocks without a runnable language"


PYTHON_DOCUMENTS = sorted({b.path for b in ALL_BLOCKS if b.lang in PYTHON})


@pytest.mark.parametrize("document", PYTHON_DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run_in_order(
    document: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("DALOY_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(clone_view(tmp_path / "clone"))
    monkeypatch.syspath_prepend(str(ROOT))
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks(document):
        if block.lang in PYTHON:
            code = compile("\n" * block.line + block.code, str(block.path), "exec")
            exec(code, namespace)


SHELL_BLOCKS = [b for b in ALL_BLOCKS if b.lang in SHELL]


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=_ids(SHELL_BLOCKS))
def test_shell_block_runs_or_is_well_formed(block: Block, tmp_path: Path) -> None:
    script = to_script(block.code)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=clone_view(tmp_path / "clone"),
        env=shell_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{block.where}\n{script}\n{result.stdout}\n{result.stderr}"


DATA_BLOCKS = [b for b in ALL_BLOCKS if b.lang in DATA]


@pytest.mark.parametrize("block", DATA_BLOCKS, ids=_ids(DATA_BLOCKS))
def test_data_block_parses(block: Block) -> None:
    if block.lang in ("yaml", "yml"):
        yaml.load(block.code, Loader=_CloudFormationLoader)
    elif block.lang == "toml":
        tomllib.loads(block.code)
    else:
        json.loads(block.code)


_REDIRECT_TARGET = re.compile(r">{1,2}\s*([A-Za-z0-9_][A-Za-z0-9_.\-]*)(?=[\s;)]|$)")


def test_no_block_writes_a_file_the_checkout_holds() -> None:
    # The scratch directory symlinks the checkout's top-level entries, so `> production.env`
    # in a block would write through the link into the checkout if a file of that name
    # were committed there.
    written = {
        (block.where, name)
        for block in SHELL_BLOCKS
        for name in _REDIRECT_TARGET.findall(block.code)
    }
    assert sorted(w for w in written if (ROOT / w[1]).exists()) == []
