"""``secret-comparisons``: secret-derived values compared by anything but a constant-time check.

``==``, ``!=``, ``in``, ``startswith`` and ``endswith`` stop at the first differing byte, so
the time they take tells an attacker how much of a guessed token, signature or password
was right; ``table[token]`` and ``table.get(token)`` end in the same ``==`` against the
entry of the same hash. A value counts as secret-derived when its name says so (``token``,
``signature``, ``csrf_token``; not ``token_type`` or ``signature_header``), when it is read
from a secret-named key or header (``headers.get("X-Signature")``, ``cookies[...]``), when it
is a MAC (``hmac.new(...).hexdigest()``), what a ``Secret`` reveals (``key.reveal()``), or a
hash of secret material (``hashlib.sha256(password)``, whose digest is as good as the
password to whoever can replay it), when it was assigned from any of these in the same
function, or when it is what a function or method of the same file returns that returns
one of these (``def _expected(body): return hmac.new(...).hexdigest()``) or a ``self``
attribute the file assigns such a call's result to (``self._digest =
hashlib.sha256(api_key).digest()``). Comparisons
with literals (``== ""``, ``== "Bearer"``, ``is None``) are left alone: a constant holds
nothing to leak.
"""

from __future__ import annotations

import ast

from daloy_edge.verify._astutil import ImportMap, dotted, finding_at, is_literal, parsed_sources
from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._names import METADATA_WORDS, is_secret_name, words
from daloy_edge.verify._project import Project, SourceFile

__all__ = ["GATE"]

_GETTERS = frozenset({"get", "pop", "get_all", "getlist", "getone", "getfirst", "setdefault"})
_TRANSFORMS = frozenset(
    {
        "strip", "lstrip", "rstrip", "lower", "upper", "casefold", "encode", "decode",
        "hex", "hexdigest", "digest", "removeprefix", "removesuffix", "split",
        "rsplit", "partition", "rpartition", "copy",
    }
)  # fmt: skip
_WRAPPERS = frozenset(
    {
        "bytes", "str", "bytearray", "bytes.fromhex", "base64.b64decode", "base64.b64encode",
        "base64.urlsafe_b64decode", "base64.urlsafe_b64encode", "base64.b16encode",
        "base64.b16decode", "binascii.hexlify", "binascii.unhexlify", "binascii.a2b_base64",
        "list", "tuple", "set", "frozenset", "sorted",
    }
)  # fmt: skip
_MACS = frozenset({"hmac.new", "hmac.digest", "hmac.HMAC"})
_VERDICTS = frozenset({"hmac.compare_digest", "secrets.compare_digest"})
# ``hashlib.sha256(data)``, ``hashlib.new("sha256", data)``, ``hashlib.pbkdf2_hmac(...)``:
# the digest is secret when anything hashed is.
_HASHES = "hashlib."
_EQUALITY = (ast.Eq, ast.NotEq)
# ``==`` spelled as a call: ``token.__eq__(sent)``, ``bytes.__eq__(mac, sent)``,
# ``operator.eq(token, sent)``: the same byte-by-byte comparison.
_EQUALITY_METHODS = frozenset({"__eq__", "__ne__"})
_EQUALITY_FUNCTIONS = frozenset(
    {"operator.eq", "operator.ne", "operator.__eq__", "operator.__ne__"}
)
_CONTAINERS = frozenset({"frozenset", "set", "tuple", "list"})
_LOOKUPS = frozenset({"get", "pop", "setdefault"})
_LOOKUP_FIX = "look the entry up by a public id, then hmac.compare_digest() the secret"
_MEMBERSHIP = (ast.In, ast.NotIn)


_SESSION_COOKIE_WORDS = frozenset({"session", "sess", "sid", "auth", "login", "remember", "jwt"})


def _names_metadata(identifier: str) -> bool:
    """``token_type``, ``auth_scheme``: a name for a fact about a secret."""
    ws = [w for w in words(identifier) if not w.isdigit()]
    return len(ws) > 1 and ws[-1] in METADATA_WORDS


def _names_a_type(node: ast.expr) -> bool:
    """``tuple[Secret, ...]``, ``state[CSRF_TOKEN_ISSUED]``: a class or a constant (which
    names a key, not a secret) is in it."""
    return any(
        isinstance(n, ast.Name | ast.Attribute)
        and (n.id if isinstance(n, ast.Name) else n.attr)[:1].isupper()
        for n in ast.walk(node)
    )


def _keyed_read_is_secret(container: ast.expr, key: str) -> bool:
    """``x["password"]``, ``headers.get("Authorization")``, ``cookies["session"]``: the key
    decides, so ``cookies.get("theme")`` is not a secret but ``cookies["__Host-session"]`` is."""
    if is_secret_name(key):
        return True
    holder = (dotted(container) or [""])[-1]
    if "cookie" in holder.lower():
        return bool(_SESSION_COOKIE_WORDS.intersection(words(key)))
    return False


class _Checker(ast.NodeVisitor):
    def __init__(
        self, source: SourceFile, imports: ImportMap, helpers: frozenset[str] = frozenset()
    ) -> None:
        self.source = source
        self.imports = imports
        self.tainted: list[set[str]] = [set()]
        self.plain: list[set[str]] = [set()]
        self.findings: list[Finding] = []
        # Functions and methods of this file known to return a secret-derived value, and
        # ``self`` attributes known to be assigned one (as ".name"), and those this pass
        # found (``check`` runs passes until no new one shows).
        self.helpers = helpers
        self.returning: set[str] = set()
        self.functions: list[str] = []
        # Module tables keyed by literals (``_HMAC = {"HS256": hashlib.sha256}``): ``in``
        # looks a public key up in them, whatever their values hold.
        self.tables = _literal_keyed_tables(source.tree)

    # scopes and taint -------------------------------------------------------------
    def _enter_scope(self) -> None:
        # A scope starts with what its enclosing one knows; what it binds stays inside.
        self.tainted.append(set(self.tainted[-1]))
        self.plain.append(set(self.plain[-1]))

    def _leave_scope(self) -> None:
        self.tainted.pop()
        self.plain.pop()

    def _scoped(self, node: ast.AST) -> None:
        self._enter_scope()
        self.generic_visit(node)
        self._leave_scope()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self._scoped(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = _scoped

    def visit_Return(self, node: ast.Return) -> None:
        self.generic_visit(node)
        value = node.value
        if value is not None and self.functions and self.is_secret(value):
            self.returning.add(self.functions[-1])

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        """Track what a plain name now holds: secret-derived, a literal (``MAC_BYTES = 32``
        is a size, whatever its name says), or neither."""
        if isinstance(target, ast.Attribute):
            # ``self._expected = hmac.new(...).digest()``, read in another method: what a
            # call made (a MAC, a hash, a revealed secret), not a value merely named so.
            if (
                dotted(target.value) in (["self"], ["cls"])
                and isinstance(value, ast.Call)
                and self.is_secret(value)
            ):
                self.returning.add("." + target.attr)
            return
        if not isinstance(target, ast.Name):
            return
        name = target.id
        self.tainted[-1].discard(name)
        self.plain[-1].discard(name)
        if self._is_public(value) or self._only_plain(value):
            self.plain[-1].add(name)
        elif self.is_secret(value):
            self.tainted[-1].add(name)

    def _is_public(self, node: ast.expr) -> bool:
        """A literal, ``frozenset({...})`` of literals, or a name bound to one: comparing a
        secret with a public constant leaks nothing the source does not already show."""
        if is_literal(node):
            return True
        if isinstance(node, ast.Name):
            return node.id in self.plain[-1]
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _CONTAINERS
            and not node.keywords
            and all(is_literal(a) for a in node.args)
        )

    def _only_plain(self, value: ast.expr) -> bool:
        names = [n for n in ast.walk(value) if isinstance(n, ast.Name)]
        return (
            bool(names)
            and all(n.id in self.plain[-1] for n in names)
            and all(isinstance(n, ast.Name | ast.Constant | ast.BinOp | ast.UnaryOp | ast.operator
                               | ast.unaryop | ast.expr_context) for n in ast.walk(value))
        )  # fmt: skip

    def _bind_loop(self, target: ast.expr, iterable: ast.expr) -> None:
        """``for s in secrets`` and ``[... for s in secrets]``: each item is a secret."""
        secret = self.is_secret(iterable)
        for name in ast.walk(target):
            if isinstance(name, ast.Name):
                self.tainted[-1].discard(name.id)
                self.plain[-1].discard(name.id)
                # ``for auth_type in ...`` names a fact about each item, not the item.
                if secret and not _names_metadata(name.id):
                    self.tainted[-1].add(name.id)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._bind_loop(node.target, node.iter)
        for statement in (*node.body, *node.orelse):
            self.visit(statement)

    visit_AsyncFor = visit_For

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
    ) -> None:
        # Its loop variables are its own, so they are bound in a scope of their own, and
        # before the element that may compare them is checked.
        self._enter_scope()
        for generator in node.generators:
            self.visit(generator.iter)
            self._bind_loop(generator.target, generator.iter)
            for condition in generator.ifs:
                self.visit(condition)
        parts = (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)
        for part in parts:
            self.visit(part)
        self._leave_scope()

    visit_ListComp = _comprehension
    visit_SetComp = _comprehension
    visit_GeneratorExp = _comprehension
    visit_DictComp = _comprehension

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._bind(target, node.value)
            self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._bind(node.target, node.value)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind(node.target, node.value)

    def visit_Expr(self, node: ast.Expr) -> None:
        self.generic_visit(node)
        # ``h.update(password)``: the hash object now digests secret material.
        call = node.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "update"
            and isinstance(call.func.value, ast.Name)
            and any(self.is_secret(a) for a in call.args)
        ):
            self.plain[-1].discard(call.func.value.id)
            self.tainted[-1].add(call.func.value.id)

    # what is secret -----------------------------------------------------------------
    def is_secret(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            if node.id in self.plain[-1]:
                return False
            return node.id in self.tainted[-1] or is_secret_name(node.id)
        if isinstance(node, ast.Attribute):
            return "." + node.attr in self.helpers or is_secret_name(node.attr)
        if isinstance(node, ast.Subscript):
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                return _keyed_read_is_secret(node.value, key.value)
            return self.is_secret(node.value)
        if isinstance(node, ast.Call):
            return self._call_is_secret(node)
        if isinstance(node, ast.Await | ast.NamedExpr):
            return self.is_secret(node.value)
        if isinstance(node, ast.BinOp):
            return self.is_secret(node.left) or self.is_secret(node.right)
        if isinstance(node, ast.JoinedStr):
            return any(
                isinstance(v, ast.FormattedValue) and self.is_secret(v.value) for v in node.values
            )
        if isinstance(node, ast.IfExp):
            return self.is_secret(node.body) or self.is_secret(node.orelse)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return any(self.is_secret(e) for e in node.elts)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            # ``[s.reveal() for s in config.secrets]``: drawn from secrets, or made of them.
            return self.is_secret(node.elt) or any(self.is_secret(g.iter) for g in node.generators)
        return False

    def _call_is_secret(self, call: ast.Call) -> bool:
        func = call.func
        qualname = self.imports.qualname(func)
        if qualname in _MACS:
            return True
        if qualname in _VERDICTS:  # a yes or no, whatever its name says
            return False
        if qualname is not None and qualname.startswith(_HASHES):
            return any(self.is_secret(a) for a in (*call.args, *(k.value for k in call.keywords)))
        if qualname in _WRAPPERS:
            return bool(call.args) and self.is_secret(call.args[0])
        if isinstance(func, ast.Attribute):
            if func.attr in _GETTERS:
                first = call.args[0] if call.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    return _keyed_read_is_secret(func.value, first.value)
                return self.is_secret(func.value)
            if func.attr == "reveal":  # Secret.reveal(): the secret itself, whatever holds it
                return True
            if func.attr in _TRANSFORMS:
                return self.is_secret(func.value)
            return func.attr in self.helpers or is_secret_name(func.attr)
        return isinstance(func, ast.Name) and (func.id in self.helpers or is_secret_name(func.id))

    # the checks -----------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> None:
        self.generic_visit(node)
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, _EQUALITY):
                self._check_pair(node, left, right, "==" if isinstance(op, ast.Eq) else "!=")
            elif isinstance(op, _MEMBERSHIP) and not self._is_public(right):
                if self.is_secret(left):
                    self._report(node, left, "in")
                elif self._holds_secrets(right) and not self._is_public(left):
                    # ``sent in secrets``: ``==`` against each one, stopping at a match.
                    self._report(node, right, "in")
            left = right

    def _holds_secrets(self, container: ast.expr) -> bool:
        """A collection of secrets; not a cookie jar (its members are cookie names) nor a
        module table keyed by literals."""
        if isinstance(container, ast.Name) and container.id in self.tables:
            return False
        if "cookie" in (dotted(container) or [""])[-1].lower():
            return False
        return self.is_secret(container)

    def _check_pair(self, node: ast.AST, left: ast.expr, right: ast.expr, op: str) -> None:
        if self._is_public(left) or self._is_public(right):
            return
        secret = left if self.is_secret(left) else right if self.is_secret(right) else None
        if secret is not None:
            self._report(node, secret, op)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        operands = self._equality_operands(node)
        if operands is not None:
            self._check_pair(node, *operands, f"{(dotted(func) or ['__eq__'])[-1]}()")
            return
        if isinstance(func, ast.Attribute) and func.attr in _LOOKUPS and node.args:
            self._check_lookup(node, node.args[0], f".{func.attr}()")
            return
        if not isinstance(func, ast.Attribute) or func.attr not in ("startswith", "endswith"):
            return
        if not node.args or is_literal(node.args[0]):
            return
        if self.is_secret(func.value):
            self._report(node, func.value, func.attr)
        elif self.is_secret(node.args[0]):
            self._report(node, node.args[0], func.attr)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            self._check_lookup(node, node.slice, "[]")

    def _check_lookup(self, node: ast.AST, key: ast.expr, op: str) -> None:
        """``table[token]``, ``table.get(token)``: the same ``==`` as ``token in table``,
        on whichever entry shares the key's hash."""
        if not self._is_public(key) and not _names_a_type(key) and self.is_secret(key):
            self._report(node, key, op, "a lookup key", _LOOKUP_FIX)

    def _equality_operands(self, call: ast.Call) -> tuple[ast.expr, ast.expr] | None:
        """The two sides of ``==`` written as a call, or None for any other call."""
        func, args = call.func, call.args
        if any(isinstance(a, ast.Starred) for a in args) or call.keywords:
            return None
        if self.imports.qualname(func) in _EQUALITY_FUNCTIONS and len(args) == 2:
            return args[0], args[1]
        if isinstance(func, ast.Attribute) and func.attr in _EQUALITY_METHODS:
            if len(args) == 1:  # token.__eq__(sent)
                return func.value, args[0]
            if len(args) == 2:  # bytes.__eq__(mac, sent)
                return args[0], args[1]
        return None

    def _report(
        self,
        node: ast.AST,
        secret: ast.expr,
        op: str,
        use: str = "compared",
        fix: str = "use hmac.compare_digest()",
    ) -> None:
        shown = ".".join(dotted(secret) or []) or ast.unparse(secret)[:40]
        verb = "compared with" if use == "compared" else f"used as {use} in"
        self.findings.append(
            finding_at(
                self.source, node, f"`{shown}` looks secret-derived and is {verb} `{op}`: {fix}"
            )
        )


def _literal_keyed_tables(tree: ast.Module | None) -> frozenset[str]:
    """Module-level names bound to a dict display whose keys are all literals."""
    names: set[str] = set()
    for statement in tree.body if tree is not None else ():
        value: ast.expr | None
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign):
            targets, value = [statement.target], statement.value
        else:
            continue
        if isinstance(value, ast.Dict) and all(is_literal(k) for k in value.keys):
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return frozenset(names)


def check(project: Project) -> Outcome:
    """Find non-constant-time comparisons of secret-derived values."""
    findings: list[Finding] = []
    count = 0
    for source, tree in parsed_sources(project, findings):
        count += 1
        imports = ImportMap(tree)
        helpers: frozenset[str] = frozenset()
        while True:
            # A helper may return another helper's value: each pass knows the ones before it.
            checker = _Checker(source, imports, helpers)
            checker.visit(tree)
            if checker.returning <= helpers:
                break
            helpers |= checker.returning
        findings.extend(checker.findings)
    return Outcome(findings, f"{count} files")


GATE = Gate(
    "secret-comparisons",
    "secrets, tokens, signatures, passwords, cookies compared in constant time",
    check,
)
