"""``weak-random``: the ``random`` module feeding tokens, nonces, ids or keys.

``random`` is a Mersenne Twister: 624 outputs reveal every future one. A call counts when
its value lands in something that must be unguessable: a variable, attribute, keyword or
dict key named like a token/nonce/id/key/salt/session, an argument of a call named so,
or the return value of a function named so. A function or method of the same file that
returns such output (``def _random_string(n): return "".join(random.choice(...) ...)``)
counts as a source too. ``random.SystemRandom`` is not flagged.
"""

from __future__ import annotations

import ast

from daloy_edge.verify._astutil import ImportMap, dotted, finding_at, parsed_sources
from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._names import is_unique_value_name
from daloy_edge.verify._project import Project, SourceFile

__all__ = ["GATE"]

_WEAK = frozenset(
    {
        "random", "randint", "randrange", "choice", "choices", "sample", "shuffle",
        "getrandbits", "randbytes", "uniform", "triangular", "betavariate", "gauss",
        "expovariate", "normalvariate",
    }
)  # fmt: skip


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Attribute):
        return [target.attr]
    if isinstance(target, ast.Subscript):
        key = target.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return [key.value]
        return _target_names(target.value)
    if isinstance(target, ast.Tuple | ast.List):
        return [n for elt in target.elts for n in _target_names(elt)]
    return []


class _Checker(ast.NodeVisitor):
    def __init__(
        self,
        source: SourceFile,
        imports: ImportMap,
        tree: ast.Module,
        helpers: frozenset[str] = frozenset(),
    ) -> None:
        self.source = source
        self.imports = imports
        # Functions and methods of this file known to return ``random`` output, and those
        # this pass found doing so (``check`` runs passes until no new one shows).
        self.helpers = helpers
        self.returning: set[str] = set()
        self.functions: list[str] = []
        self.findings: list[Finding] = []
        self.reported: set[int] = set()
        self.instances = self._random_instances(tree)

    def _random_instances(self, tree: ast.Module) -> set[str]:
        """Names (and ``self.x`` attributes) bound to ``random.Random(...)``."""
        found: set[str] = set()
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and self.imports.imported(node.value.func) == "random.Random"
            ):
                for target in node.targets:
                    found.update(_target_names(target))
        return found

    def _weak_calls(self, node: ast.AST) -> list[ast.Call]:
        out = []
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and self._is_weak(sub):
                out.append(sub)
        return out

    def _is_weak(self, call: ast.Call) -> bool:
        func = call.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if called in self.helpers:
            return True
        qualname = self.imports.imported(call.func) or ""
        module, _, fn = qualname.rpartition(".")
        if module == "random" and fn in _WEAK:
            return True
        if isinstance(call.func, ast.Attribute) and call.func.attr in _WEAK:
            receiver = call.func.value
            if isinstance(receiver, ast.Call):
                return self.imports.imported(receiver.func) == "random.Random"
            parts = dotted(receiver)
            return parts is not None and parts[-1] in self.instances
        return False

    def _sink(self, value: ast.AST | None, names: list[str], where: str) -> None:
        if value is None or not any(is_unique_value_name(n) for n in names):
            return
        for call in self._weak_calls(value):
            if id(call) in self.reported:
                continue
            self.reported.add(id(call))
            shown = ast.unparse(call.func)
            self.findings.append(
                finding_at(
                    self.source,
                    call,
                    f"`{shown}()` feeds {where} `{names[0]}`: use the secrets module "
                    "(secrets.token_urlsafe, secrets.token_bytes) or os.urandom",
                )
            )

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Assign(self, node: ast.Assign) -> None:
        names = [n for t in node.targets for n in _target_names(t)]
        self._sink(node.value, names, "the value")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._sink(node.value, _target_names(node.target), "the value")
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._sink(node.value, _target_names(node.target), "the value")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._sink(node.value, _target_names(node.target), "the value")
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if self.functions:
            self._sink(node.value, [self.functions[-1]], "the result of")
            if node.value is not None and self._weak_calls(node.value):
                self.returning.add(self.functions[-1])
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        for kw in node.keywords:
            if kw.arg:
                self._sink(kw.value, [kw.arg], "the argument")
        callee = dotted(node.func)
        if callee:
            for arg in node.args:
                self._sink(arg, [callee[-1]], "a call to")
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                self._sink(value, [key.value], "the entry")
        self.generic_visit(node)


def check(project: Project) -> Outcome:
    """Find ``random`` output used where an unguessable value is needed."""
    findings: list[Finding] = []
    count = 0
    for source, tree in parsed_sources(project, findings):
        count += 1
        imports = ImportMap(tree)
        helpers: frozenset[str] = frozenset()
        while True:
            # A helper may return another helper's value: each pass knows the ones before it.
            checker = _Checker(source, imports, tree, helpers)
            checker.visit(tree)
            if checker.returning <= helpers:
                break
            helpers |= checker.returning
        findings.extend(checker.findings)
    return Outcome(findings, f"{count} files")


GATE = Gate("weak-random", "no `random` module output in tokens, nonces, ids or keys", check)
