"""The ``>>>`` examples in the docstrings of the core and the adapters run as written."""

from __future__ import annotations

import doctest
import importlib
import os

import pytest

from tests.docs.markdown import ROOT

PACKAGES = (
    ROOT / "daloy_edge",
    *(path for path in sorted((ROOT / "adapters").glob("*/daloy_edge_*")) if path.is_dir()),
)


def _modules_with_examples() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            if ">>> " in path.read_text(encoding="utf-8"):
                parts = path.relative_to(package.parent).with_suffix("").parts
                names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples_print_what_they_show(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative paths in the examples (``static_files("examples/static")``) name the checkout.
    monkeypatch.chdir(ROOT)
    for variable in [v for v in os.environ if v.startswith("DALOY_")]:
        monkeypatch.delenv(variable)
    failed, _ = doctest.testmod(importlib.import_module(name), report=True)
    assert failed == 0
