"""``unsafe-deserialization``: loaders and evaluators that run code chosen by the input.

pickle/marshal/shelve/dill loads, ``yaml.load`` without a safe loader (and
``yaml.unsafe_load``/``full_load``), ``eval``/``exec`` on anything but a string literal,
``torch.load`` without ``weights_only=True``, ``numpy.load(allow_pickle=True)``, and
shell execution: ``subprocess`` with ``shell=True``, ``os.system``, ``os.popen``,
``asyncio.create_subprocess_shell``, and a shell started by name with a built script
(``subprocess.run(["sh", "-c", f"convert {name}"])``, the same as ``shell=True``) (a
literal command string is left alone: nothing outside can reach it).
"""

from __future__ import annotations

import ast

from daloy_edge.verify._astutil import (
    ImportMap,
    argument,
    finding_at,
    is_constant_false,
    is_constant_true,
    parsed_sources,
)
from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project, SourceFile

__all__ = ["GATE"]

_PICKLERS = ("pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib")
_CODE_LOADERS = frozenset(
    {f"{m}.{fn}" for m in _PICKLERS for fn in ("load", "loads", "Unpickler")}
    | {"marshal.load", "marshal.loads", "shelve.open", "shelve.DbfilenameShelf",
       "jsonpickle.decode", "pandas.read_pickle", "yaml.unsafe_load", "yaml.unsafe_load_all",
       "yaml.full_load", "yaml.full_load_all"}
)  # fmt: skip
_SAFE_YAML_LOADERS = frozenset({"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"})
_SUBPROCESS = frozenset(
    f"subprocess.{fn}" for fn in ("run", "call", "check_call", "check_output", "Popen")
)
_ALWAYS_SHELL = frozenset(
    {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput",
     "asyncio.create_subprocess_shell"}
)  # fmt: skip


_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "fish"})


def _literal_string(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str | bytes)


def _built_shell_script(parts: list[ast.expr]) -> bool:
    """``["sh", "-c", f"... {name}"]``: a shell handed a script built from data."""
    if len(parts) < 3:
        return False
    program, option = parts[0], parts[1]
    if not (isinstance(program, ast.Constant) and isinstance(option, ast.Constant)):
        return False
    shell, flag = str(program.value), str(option.value)
    return (
        shell.rpartition("/")[2] in _SHELLS
        and flag.startswith("-")
        and not flag.startswith("--")
        and "c" in flag
        and not _literal_string(parts[2])
    )


class _Checker:
    def __init__(self, source: SourceFile, tree: ast.Module) -> None:
        self.source = source
        self.imports = ImportMap(tree)
        self.findings: list[Finding] = []
        local_defs = {
            n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.builtins_shadowed = local_defs & {"eval", "exec"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(node)

    def _call(self, call: ast.Call) -> None:
        imported = self.imports.imported(call.func) or ""
        if imported in _CODE_LOADERS:
            self._report(call, f"{imported}() can execute code embedded in its input")
        elif imported in ("yaml.load", "yaml.load_all"):
            self._yaml(call, imported)
        elif imported in _SUBPROCESS:
            shell = argument(call, "shell")
            command = argument(call, "args", 0)
            if shell is not None and not is_constant_false(shell) and not _literal_string(command):
                self._report(call, f"{imported}(shell=True) with a built command: shell injection")
            elif isinstance(command, ast.List | ast.Tuple) and _built_shell_script(command.elts):
                self._report(call, f"{imported}() runs a built script through a shell")
        elif imported == "asyncio.create_subprocess_exec":
            if _built_shell_script(call.args):
                self._report(call, f"{imported}() runs a built script through a shell")
        elif imported in _ALWAYS_SHELL:
            if not _literal_string(argument(call, "cmd", 0)):
                self._report(call, f"{imported}() runs a built command through the shell")
        elif imported == "torch.load":
            if not is_constant_true(argument(call, "weights_only")):
                self._report(call, "torch.load without weights_only=True unpickles its input")
        elif imported == "numpy.load" and is_constant_true(argument(call, "allow_pickle")):
            self._report(call, "numpy.load(allow_pickle=True) unpickles its input")
        else:
            self._evaluators(call)

    def _yaml(self, call: ast.Call, name: str) -> None:
        loader = argument(call, "Loader", 1)
        loader_name = (self.imports.qualname(loader) or "") if loader is not None else ""
        if loader_name.rpartition(".")[2] not in _SAFE_YAML_LOADERS:
            self._report(call, f"{name}() without Loader=yaml.SafeLoader builds arbitrary objects")

    def _evaluators(self, call: ast.Call) -> None:
        name = (self.imports.qualname(call.func) or "").removeprefix("builtins.")
        if name not in ("eval", "exec") or name in self.builtins_shadowed or not call.args:
            return
        if not _literal_string(call.args[0]):
            self._report(call, f"{name}() on a non-literal runs whatever it is given")

    def _report(self, node: ast.AST, message: str) -> None:
        self.findings.append(finding_at(self.source, node, message))


def check(project: Project) -> Outcome:
    """Find deserialisers and evaluators that can run attacker-chosen code."""
    findings: list[Finding] = []
    count = 0
    for source, tree in parsed_sources(project, findings):
        count += 1
        findings.extend(_Checker(source, tree).findings)
    return Outcome(findings, f"{count} files")


GATE = Gate(
    "unsafe-deserialization",
    "no pickle/marshal/shelve loads, unsafe yaml.load, eval/exec on data, shell=True",
    check,
)
