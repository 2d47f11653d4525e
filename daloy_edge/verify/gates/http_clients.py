"""``http-client-safety``: outbound HTTP without a timeout, without TLS checks, or following
redirects on a URL the request controls outside the egress guard.

* ``requests`` calls need ``timeout=`` (it has no default: a stalled peer hangs forever);
  ``urllib.request.urlopen`` likewise; ``urlretrieve`` cannot take one at all.
* ``timeout=None`` is flagged anywhere (httpx has a 5 s default; None removes it).
* ``verify=False``, ``ssl._create_unverified_context()``, ``check_hostname = False`` and
  ``verify_mode = CERT_NONE`` turn TLS into plain text for anyone on the path.
* ``follow_redirects=True`` / ``allow_redirects=True`` on a URL derived from the request
  (a handler's ``request``/``event`` parameter, or names assigned from it), which
  ``requests`` does unless told not to (but for ``head``), lets a
  redirect steer the call to internal addresses after any URL check. Only the egress
  guard (``egress-paths``, default ``*/egress/*``) may follow redirects, because it re-checks
  each hop.
"""

from __future__ import annotations

import ast
import fnmatch

from daloy_edge.verify._astutil import (
    ImportMap,
    argument,
    dotted,
    finding_at,
    has_star_kwargs,
    is_constant_false,
    is_constant_true,
    parsed_sources,
)
from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project, SourceFile

__all__ = ["GATE"]

_VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "request", "stream")
_HTTPX_FUNCS = frozenset(f"httpx.{v}" for v in _VERBS)
_REQUESTS_FUNCS = frozenset(f"requests.{v}" for v in _VERBS) | frozenset(
    f"requests.api.{v}" for v in _VERBS
)
_CLIENTS = {
    "httpx.Client": "httpx",
    "httpx.AsyncClient": "httpx",
    "requests.Session": "requests",
    "requests.session": "requests",
    "requests.sessions.Session": "requests",
}
_REQUEST_PARAMS = frozenset({"request", "req", "event"})
DEFAULT_EGRESS_PATHS = ("*/egress/*", "egress/*")


class _Checker(ast.NodeVisitor):
    def __init__(self, source: SourceFile, tree: ast.Module, guard: bool) -> None:
        self.source = source
        self.guard = guard
        self.imports = ImportMap(tree)
        self.findings: list[Finding] = []
        self.clients: dict[str, tuple[str, bool]] = {}
        self.tainted: list[set[str]] = [set()]

    # client objects and request taint ------------------------------------------------
    def _client_kind(self, value: ast.expr) -> tuple[str, bool] | None:
        if isinstance(value, ast.Call):
            family = _CLIENTS.get(self.imports.imported(value.func) or "")
            if family:
                follows = is_constant_true(argument(value, "follow_redirects"))
                return family, follows
        return None

    def _bind_client(self, target: ast.expr, value: ast.expr) -> None:
        kind = self._client_kind(value)
        parts = dotted(target)
        if kind and parts:
            self.clients[parts[-1]] = kind

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        scope = set(self.tainted[-1])
        scope.update(
            a.arg for a in node.args.args + node.args.kwonlyargs if a.arg in _REQUEST_PARAMS
        )
        self.tainted.append(scope)
        self.generic_visit(node)
        self.tainted.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def _from_request(self, node: ast.expr) -> bool:
        return any(isinstance(n, ast.Name) and n.id in self.tainted[-1] for n in ast.walk(node))

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        tainted = self._from_request(node.value)
        for target in node.targets:
            self._bind_client(target, node.value)
            self._check_tls_attribute(target, node.value)
            for name in (n for n in ast.walk(target) if isinstance(n, ast.Name)):
                (self.tainted[-1].add if tainted else self.tainted[-1].discard)(name.id)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._bind_client(item.optional_vars, item.context_expr)
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    # the checks -------------------------------------------------------------------------
    def _check_tls_attribute(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Attribute):
            if target.attr == "check_hostname" and is_constant_false(value):
                self._report(target, "TLS host name checking turned off")
            if target.attr == "verify_mode" and (self.imports.qualname(value) or "").endswith(
                "CERT_NONE"
            ):
                self._report(target, "TLS certificate checking turned off (CERT_NONE)")

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        name = self.imports.imported(node.func) or ""
        if name == "ssl._create_unverified_context":
            self._report(node, "unverified TLS context: certificates are not checked")
            return
        if name in ("urllib.request.urlopen", "urllib.request.urlretrieve"):
            self._urllib(node, name)
            return
        family, follows, is_request = self._family(node, name)
        if family is None:
            return
        timeout = argument(node, "timeout")
        if timeout is None and family == "requests" and is_request and not has_star_kwargs(node):
            self._report(node, "requests call without timeout=: a stalled server hangs it forever")
        if isinstance(timeout, ast.Constant) and timeout.value is None:
            self._report(node, "timeout=None disables the timeout")
        if is_constant_false(argument(node, "verify")):
            self._report(node, "verify=False: TLS certificates are not checked")
        if is_request and not self.guard:
            self._redirects(node, family, follows)

    def _family(self, node: ast.Call, name: str) -> tuple[str | None, bool, bool]:
        if name in _HTTPX_FUNCS:
            return "httpx", False, True
        if name in _REQUESTS_FUNCS:
            return "requests", False, True
        if name in _CLIENTS:
            return _CLIENTS[name], False, False
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _VERBS:
            parts = dotted(func.value)
            if parts and parts[-1] in self.clients:
                family, follows = self.clients[parts[-1]]
                return family, follows, True
        return None, False, False

    def _redirects(self, node: ast.Call, family: str, client_follows: bool) -> None:
        flag = "follow_redirects" if family == "httpx" else "allow_redirects"
        explicit = argument(node, flag)
        func = node.func
        # requests follows redirects unless told not to; only its head() does not.
        by_default = client_follows or (
            family == "requests" and (dotted(func) or [""])[-1] != "head"
        )
        follows = is_constant_true(explicit) or (explicit is None and by_default)
        is_generic = isinstance(func, ast.Attribute) and func.attr in ("request", "stream")
        url = argument(node, "url", 1 if is_generic else 0)
        if follows and url is not None and self._from_request(url):
            self._report(
                node,
                f"{flag}=True on a URL taken from the request: a redirect can reach internal "
                "hosts; fetch it through the egress guard",
            )

    def _urllib(self, node: ast.Call, name: str) -> None:
        if name.endswith("urlretrieve"):
            self._report(node, "urlretrieve cannot take a timeout: use urlopen(..., timeout=)")
            return
        timeout = argument(node, "timeout", 2)
        if timeout is None and not has_star_kwargs(node):
            self._report(node, "urlopen without timeout=: a stalled server hangs it forever")
        elif isinstance(timeout, ast.Constant) and timeout.value is None:
            self._report(node, "timeout=None disables the timeout")

    def _report(self, node: ast.AST, message: str) -> None:
        self.findings.append(finding_at(self.source, node, message))


def check(project: Project) -> Outcome:
    """Find unsafe outbound HTTP calls."""
    guards = project.config.egress_paths or DEFAULT_EGRESS_PATHS
    findings: list[Finding] = []
    count = 0
    for source, tree in parsed_sources(project, findings):
        count += 1
        guard = any(fnmatch.fnmatch(source.rel, pattern) for pattern in guards)
        checker = _Checker(source, tree, guard)
        checker.visit(tree)
        findings.extend(checker.findings)
    return Outcome(findings, f"{count} files")


GATE = Gate(
    "http-client-safety",
    "outbound HTTP has timeouts and TLS checks; no redirects on request-controlled URLs",
    check,
)
