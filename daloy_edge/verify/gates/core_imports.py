"""``core-imports``: the runtime-neutral core imports no platform SDK and no adapter.

Every import in the core counts, lazy ones inside functions included, and so do
``importlib.import_module("…")`` / ``__import__("…")`` with a literal name: the core must
run unchanged on Lambda, Workers, Cloud Functions and ASGI, so a platform SDK there is a
bug even when it is imported late. The core is ``core-packages`` from the config, by
default the root project's own package(s).
"""

from __future__ import annotations

import ast

from daloy_edge.verify._astutil import ImportMap, finding_at, parsed_sources
from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project

__all__ = ["GATE", "RUNTIME_SDKS"]

RUNTIME_SDKS = (
    "js",
    "pyodide",
    "pyodide_js",
    "workers",
    "flask",
    "functions_framework",
    "google.cloud",
    "boto3",
    "botocore",
    "aiobotocore",
    "mangum",
    "awslambdaric",
    "aws_lambda_powertools",
)


def _core_dirs(project: Project) -> list[str]:
    if project.config.core_packages is not None:
        return [p.strip("/") for p in project.config.core_packages]
    root = project.members[0] if project.members else None
    if root is None:
        return []
    return [d for d in (project.module_dir(m) for m in root.modules) if d]


def _banned(project: Project) -> tuple[str, ...]:
    adapters = tuple(m for member in project.members[1:] for m in member.modules)
    return RUNTIME_SDKS + adapters


def _imported_names(tree: ast.Module, imports: ImportMap) -> list[tuple[ast.AST, str]]:
    out: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node, node.module))
        elif isinstance(node, ast.Call) and node.args:
            name = imports.qualname(node.func)
            first = node.args[0]
            if (
                name in ("importlib.import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                out.append((node, first.value))
    return out


def check(project: Project) -> Outcome:
    """Find runtime SDK or adapter imports inside the core."""
    dirs = _core_dirs(project)
    if not dirs:
        return Outcome(checked="no core package in this project (set core-packages)")
    banned = _banned(project)
    findings: list[Finding] = []
    count = 0
    for source, tree in parsed_sources(project, findings):
        if not any(source.rel.startswith(d + "/") for d in dirs):
            continue
        count += 1
        for node, module in _imported_names(tree, ImportMap(tree)):
            hit = next((b for b in banned if module == b or module.startswith(b + ".")), None)
            if hit:
                findings.append(
                    finding_at(
                        source, node, f"the core imports `{module}` ({hit} belongs in an adapter)"
                    )
                )
    return Outcome(findings, f"{count} core files in {', '.join(dirs)}")


GATE = Gate("core-imports", "the core imports no runtime SDK or adapter", check)
