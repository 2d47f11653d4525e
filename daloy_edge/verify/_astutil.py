"""Small AST helpers shared by the code gates: import resolution and call arguments."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from daloy_edge.verify._model import Finding
from daloy_edge.verify._project import Project, SourceFile

__all__ = [
    "ImportMap",
    "argument",
    "dotted",
    "is_constant_false",
    "is_constant_true",
    "is_literal",
    "parsed_sources",
]


class ImportMap:
    """Local names bound by the imports of one module, mapped to what they import.

    ``import jwt as j`` binds ``j -> jwt``; ``from jwt import decode`` binds ``decode ->
    jwt.decode``. Imports inside functions count too: lazy imports are the norm here.
    """

    def __init__(self, tree: ast.AST) -> None:
        self.names: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.names[alias.asname] = alias.name
                    else:
                        root = alias.name.split(".")[0]
                        self.names[root] = root
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def qualname(self, node: ast.expr) -> str | None:
        """The imported dotted name an expression refers to (``j.decode`` -> ``jwt.decode``).

        Names that no import binds resolve to themselves, so builtins such as ``eval``
        come back as ``"eval"``.
        """
        parts = dotted(node)
        if parts is None:
            return None
        head, *rest = parts
        base = self.names.get(head, head)
        return ".".join([base, *rest])

    def imported(self, node: ast.expr) -> str | None:
        """Like :meth:`qualname`, but only for names an import statement bound."""
        parts = dotted(node)
        if parts is None or parts[0] not in self.names:
            return None
        return self.qualname(node)


def dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything that is not a plain name chain."""
    out: list[str] = []
    while isinstance(node, ast.Attribute):
        out.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        out.append(node.id)
        return out[::-1]
    return None


def argument(call: ast.Call, keyword: str, position: int | None = None) -> ast.expr | None:
    """The expression passed as ``keyword=`` or at ``position``, if any."""
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if position is not None and len(call.args) > position:
        arg = call.args[position]
        if not isinstance(arg, ast.Starred):
            return arg
    return None


def has_star_kwargs(call: ast.Call) -> bool:
    """True when ``**options`` may supply any keyword."""
    return any(kw.arg is None for kw in call.keywords)


def is_literal(node: ast.expr | None) -> bool:
    """A constant, or a tuple/list/set/dict made only of constants (empty ones included)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return all(is_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and is_literal(k) for k in node.keys) and all(
            is_literal(v) for v in node.values
        )
    return False


def is_constant_true(node: ast.expr | None) -> bool:
    """The literal ``True``."""
    return isinstance(node, ast.Constant) and node.value is True


def is_constant_false(node: ast.expr | None) -> bool:
    """The literal ``False``."""
    return isinstance(node, ast.Constant) and node.value is False


def parsed_sources(
    project: Project, findings: list[Finding], *, include_tests: bool = False
) -> Iterator[tuple[SourceFile, ast.Module]]:
    """Each parsable non-test source; files that do not parse become findings."""
    for source in project.python_files(include_tests=include_tests):
        if source.tree is None:
            findings.append(Finding(source.rel, 0, source.error or "cannot parse"))
            continue
        yield source, source.tree


def finding_at(source: SourceFile, node: ast.AST, message: str) -> Finding:
    """A finding at a node's position."""
    line = getattr(node, "lineno", 0)
    col = getattr(node, "col_offset", -1) + 1
    return Finding(source.rel, line, message, col)
