"""What the observability modules import at run time: nothing a cold start can do without.

Static: each module's imports outside ``if TYPE_CHECKING:`` blocks and functions are read
from its source, so the check holds whatever the rest of the package imports today.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import daloy_edge.observability
from tests.perf.test_cold_path import DEFERRED as COLD_START_DEFERRED

PACKAGE = Path(daloy_edge.observability.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))

# Loaded on first use only (features that need them import them inside functions): what a
# cold start defers, the OpenTelemetry SDK, and the core modules a log line has no use for.
DEFERRED = COLD_START_DEFERRED | {
    "ast",
    "traceback",
    "opentelemetry",
    "daloy_edge.types",
    "daloy_edge.transport",
}


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def runtime_imports(source: str) -> set[str]:
    """Modules imported when the module body runs (not in functions or TYPE_CHECKING)."""
    found: set[str] = set()

    def walk(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node):
                    walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                for handler in node.handlers:
                    walk(handler.body)

    walk(ast.parse(source).body)
    return found


def _deferred(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in DEFERRED)


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_module_imports_nothing_deferred_at_run_time(path):
    imported = runtime_imports(path.read_text())
    assert sorted(m for m in imported if _deferred(m)) == []


def test_the_check_sees_imports_outside_type_checking():
    source = "import typing\nif TYPE_CHECKING:\n    import hashlib\nelse:\n    import random\n"
    assert runtime_imports(source) == {"typing", "random"}
