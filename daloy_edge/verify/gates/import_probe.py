"""``no-network-at-import`` and ``lazy-imports``: import each package in a fresh interpreter
and watch what happens.

The child process installs an audit hook (PEP 578) before importing: creating an
internet socket, connecting, binding, sending or resolving a name is recorded and made to
fail, so nothing leaves the machine. Cold starts on serverless runtimes pay for every
import, so the same run also records which heavy modules (cryptography, httpx, ...) the
import pulled in; those must load only when a feature that needs them is used.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project

__all__ = ["LAZY_GATE", "NETWORK_GATE", "probe"]

DEFAULT_HEAVY = (
    "cryptography",
    "jwt",
    "httpx",
    "httpcore",
    "anyio",
    "upstash_redis",
    "boto3",
    "botocore",
    "brotli",
    "yaml",
    "requests",
    "jsonschema",
    "pydantic",
    "numpy",
)
_MARK = "@@daloy-edge-probe@@"
_PROBE = r"""
import importlib, json, os, socket, sys, sysconfig, traceback
mark, module, root = sys.argv[1], sys.argv[2], sys.argv[3]
stdlib = sysconfig.get_paths()["stdlib"]
events = []
NET = {socket.AF_INET, socket.AF_INET6, -1}
BLOCKED = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
           "socket.gethostbyname_ex", "socket.gethostbyaddr", "socket.sendto",
           "socket.sendmsg", "socket.bind"}

def where():
    for frame in reversed(traceback.extract_stack()[:-2]):
        name = frame.filename
        if not name.startswith(stdlib) and "<frozen" not in name and name != "<string>":
            inside = name.startswith(root + os.sep)
            return [os.path.relpath(name, root) if inside else name, frame.lineno]
    return ["", 0]

def hook(event, args):
    if event == "socket.__new__" and args[1] in NET or event in BLOCKED:
        shown = repr(args[1:] if event == "socket.__new__" else args)[:120]
        events.append({"event": event, "args": shown, "at": where()})
        raise OSError("network access blocked while importing " + module)

sys.addaudithook(hook)
before = set(sys.modules)
error = None
try:
    importlib.import_module(module)
except BaseException as exc:
    error = type(exc).__name__ + ": " + str(exc)[:300]
loaded = sorted(set(sys.modules) - before)
print(mark + json.dumps({"events": events, "error": error, "loaded": loaded}))
"""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What importing one module did."""

    module: str
    events: list[dict[str, object]]
    error: str | None
    loaded: list[str]


def _modules(project: Project) -> list[str]:
    if project.config.import_modules is not None:
        return list(project.config.import_modules)
    return [m for member in project.members for m in member.modules]


def _run_one(project: Project, module: str) -> ProbeResult:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project.root), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        done = subprocess.run(  # noqa: S603 -- fixed tool, argument list, no shell
            [project.python, "-c", _PROBE, _MARK, module, str(project.root)],
            capture_output=True,
            text=True,
            cwd=project.root,
            env=env,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ProbeResult(module, [], f"probe did not finish: {exc}", [])
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_MARK):
            data = json.loads(line.removeprefix(_MARK))
            return ProbeResult(module, data["events"], data["error"], data["loaded"])
    return ProbeResult(module, [], f"probe crashed: {done.stderr.strip()[-300:]}", [])


def probe(project: Project) -> list[ProbeResult]:
    """Import every configured module once (cached on the project)."""
    cached = project.cache.get("import-probe")
    if isinstance(cached, list):
        return cached
    results = [_run_one(project, module) for module in _modules(project)]
    project.cache["import-probe"] = results
    return results


def _where(event: dict[str, object]) -> tuple[str, int, str]:
    """(project path, line, "") for code in the project; ("", 0, " at file:line") outside it."""
    at = event.get("at")
    if not (isinstance(at, list) and len(at) == 2):
        return "", 0, ""
    path, line = str(at[0]), int(at[1]) if isinstance(at[1], int) else 0
    if not path or os.path.isabs(path) or path.startswith(".."):
        return "", 0, f" at {path}:{line}" if path else ""
    return path, line, ""


def check_network(project: Project) -> Outcome:
    """Import each package with the network blocked and report any attempt."""
    results = probe(project)
    if not results:
        return Outcome(checked="no importable package found (set import-modules)")
    findings: list[Finding] = []
    for result in results:
        for event in result.events:
            path, line, outside = _where(event)
            message = f"importing {result.module} triggered {event['event']} {event['args']}"
            findings.append(Finding(path, line, message + outside))
        if result.error and not result.events:
            findings.append(Finding("", 0, f"importing {result.module} failed: {result.error}"))
    return Outcome(findings, f"imported {', '.join(r.module for r in results)}")


def check_lazy(project: Project) -> Outcome:
    """Report heavy modules loaded by merely importing a package."""
    results = probe(project)
    if not results:
        return Outcome(checked="no importable package found (set import-modules)")
    heavy = set(project.config.heavy_modules or DEFAULT_HEAVY)
    findings: list[Finding] = []
    for result in results:
        if result.error:
            findings.append(Finding("", 0, f"importing {result.module} failed: {result.error}"))
            continue
        pulled = sorted({m.split(".")[0] for m in result.loaded} & heavy)
        if pulled:
            findings.append(
                Finding(
                    "",
                    0,
                    f"importing {result.module} loads {', '.join(pulled)}: import "
                    "them inside the feature that needs them",
                )
            )
    return Outcome(findings, f"imported {', '.join(r.module for r in results)}")


NETWORK_GATE = Gate(
    "no-network-at-import",
    "importing the packages opens no socket (run with a hook)",
    check_network,
)
LAZY_GATE = Gate(
    "lazy-imports", "importing the packages loads no heavy module (cold start)", check_lazy
)
