"""``jwt-misuse``: JWT decoding that skips or weakens signature verification.

Flags, for PyJWT and python-jose: ``decode`` without ``algorithms`` (the token then picks
its own), ``options={"verify_signature": False}`` or the old ``verify=False``, ``none``
among the algorithms, algorithms read from the token's own unverified header (algorithm
confusion), and ``encode`` with ``algorithm="none"`` or ``None``. A name passed as
``algorithms=`` or ``options=`` is read through what the file assigns to it
(``alg = jwt.get_unverified_header(token)["alg"]``, ``ALGORITHMS = ["HS256", "none"]``).
"""

from __future__ import annotations

import ast

from daloy_edge.verify._astutil import (
    ImportMap,
    argument,
    finding_at,
    has_star_kwargs,
    is_constant_false,
    parsed_sources,
)
from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project, SourceFile

__all__ = ["GATE"]

_DECODERS = frozenset(
    {
        "jwt.decode", "jwt.decode_complete", "jwt.api_jwt.decode", "jwt.api_jwt.decode_complete",
        "jwt.api_jws.decode", "jwt.api_jws.decode_complete", "jose.jwt.decode", "jose.jws.verify",
    }
)  # fmt: skip
_ENCODERS = frozenset({"jwt.encode", "jwt.api_jwt.encode", "jose.jwt.encode", "jose.jws.sign"})
_INSTANCE_FACTORIES = frozenset(
    {"jwt.PyJWT", "jwt.PyJWS", "jwt.api_jwt.PyJWT", "jwt.api_jws.PyJWS"}
)


def _mentions_none(node: ast.expr) -> bool:
    return any(
        isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value.lower() == "none"
        for sub in ast.walk(node)
    )


def _from_token_header(node: ast.expr, imports: ImportMap) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Subscript):
            key = sub.slice
            if isinstance(key, ast.Constant) and key.value == "alg":
                return True
        if isinstance(sub, ast.Call):
            name = imports.imported(sub.func) or ""
            if name.endswith("get_unverified_header"):
                return True
            first = sub.args[0] if sub.args else None
            if (  # header.get("alg")
                isinstance(sub.func, ast.Attribute)
                and sub.func.attr == "get"
                and isinstance(first, ast.Constant)
                and first.value == "alg"
            ):
                return True
    return False


def _disables_verification(options: ast.expr) -> bool:
    if isinstance(options, ast.Call) and isinstance(options.func, ast.Name):
        # dict(verify_signature=False)
        return options.func.id == "dict" and any(
            k.arg == "verify_signature" and is_constant_false(k.value) for k in options.keywords
        )
    if not isinstance(options, ast.Dict):
        return False
    return any(
        isinstance(k, ast.Constant) and k.value == "verify_signature" and is_constant_false(v)
        for k, v in zip(options.keys, options.values, strict=True)
    )


def _bindings(tree: ast.Module) -> dict[str, list[ast.expr]]:
    """Every value the file assigns to each plain name, wherever it does."""
    bound: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                bound.setdefault(target.id, []).append(value)
    return bound


class _Checker:
    def __init__(self, source: SourceFile, tree: ast.Module) -> None:
        self.source = source
        self.imports = ImportMap(tree)
        self.findings: list[Finding] = []
        self.bindings = _bindings(tree)
        self.instances = {
            t.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
            and self.imports.imported(n.value.func) in _INSTANCE_FACTORIES
            for t in n.targets
            if isinstance(t, ast.Name)
        }  # fmt: skip
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(node)

    def _kind(self, call: ast.Call) -> str | None:
        name = self.imports.imported(call.func)
        if name in _DECODERS:
            return "decode"
        if name in _ENCODERS:
            return "encode"
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in self.instances
        ):
            return {"decode": "decode", "decode_complete": "decode", "encode": "encode"}.get(
                func.attr
            )
        return None

    def _call(self, call: ast.Call) -> None:
        kind = self._kind(call)
        if kind == "decode":
            self._decode(call)
        elif kind == "encode":
            algorithm = argument(call, "algorithm", 2)
            if algorithm is not None and (
                _mentions_none(algorithm)
                or (isinstance(algorithm, ast.Constant) and algorithm.value is None)
            ):
                self._report(call, "JWT signed with alg `none`: the token carries no signature")

    def _values(self, node: ast.expr | None) -> list[ast.expr]:
        """``node`` and what the file assigns to each name in it, and so on through those."""
        found: list[ast.expr] = []
        pending = [node] if node is not None else []
        seen: set[str] = set()
        while pending:
            value = pending.pop()
            found.append(value)
            for sub in ast.walk(value):
                if isinstance(sub, ast.Name) and sub.id not in seen:
                    seen.add(sub.id)
                    pending.extend(self.bindings.get(sub.id, ()))
        return found

    def _decode(self, call: ast.Call) -> None:
        algorithms = argument(call, "algorithms", 2)
        values = self._values(algorithms)
        if algorithms is None and not has_star_kwargs(call):
            self._report(call, "jwt decode without `algorithms=`: pin the accepted algorithms")
        elif any(_mentions_none(v) for v in values):
            self._report(call, "jwt decode accepts alg `none`")
        elif any(_from_token_header(v, self.imports) for v in values):
            self._report(call, "jwt decode takes its algorithms from the token's own header")
        if any(_disables_verification(v) for v in self._values(argument(call, "options", 3))):
            self._report(call, "jwt decode with verify_signature=False accepts forged tokens")
        if is_constant_false(argument(call, "verify")):
            self._report(call, "jwt decode with verify=False accepts forged tokens")

    def _report(self, node: ast.AST, message: str) -> None:
        self.findings.append(finding_at(self.source, node, message))


def check(project: Project) -> Outcome:
    """Find JWT decoding that does not verify what it should."""
    findings: list[Finding] = []
    count = 0
    for source, tree in parsed_sources(project, findings):
        count += 1
        findings.extend(_Checker(source, tree).findings)
    return Outcome(findings, f"{count} files")


GATE = Gate("jwt-misuse", "jwt.decode pins algorithms, verifies signatures, never alg none", check)
