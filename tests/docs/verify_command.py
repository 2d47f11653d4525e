"""Check that a documented command that is not run here is well-formed where it would run.

Usage (from the scripts ``shell.to_script`` writes)::

    python verify_command.py '["sam", "deploy", "--template-file", "infra/aws/template.yaml"]'

The working directory is the one the command would run in. Exit status 0 when the
command is well-formed, 1 with the reason on stderr when it is not.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Malformed(Exception):
    """The command would not work as written."""


def _option(argv: list[str], *names: str) -> str | None:
    for i, word in enumerate(argv):
        for name in names:
            if word == name and i + 1 < len(argv):
                return argv[i + 1]
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


def _positional(argv: list[str], takes_value: frozenset[str] = frozenset()) -> list[str]:
    found, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in takes_value
        else:
            found.append(word)
    return found


def _exists(path: str, what: str) -> Path:
    resolved = Path(path)
    if not resolved.exists():
        raise Malformed(f"{what} {path} does not exist (in {Path.cwd()})")
    return resolved


def _defines(source: Path, name: str) -> None:
    text = source.read_text(encoding="utf-8")
    word = re.escape(name)
    assigned = rf"^{word}\s*[:=]"
    defined = rf"^(?:async\s+)?def\s+{word}\b"
    imported = rf"^from\s+\S+\s+import\s+.*\b{word}\b"
    # A lazy module attribute: ``def __getattr__(name)`` answering ``if name == "<word>"``.
    lazy = rf"^def __getattr__\(.*(?:\n.*)*?\n\s+if name == \"{word}\":"
    if not any(re.search(p, text, re.MULTILINE) for p in (assigned, defined, imported, lazy)):
        raise Malformed(f"{source} does not define {name}")


def _module_target(target: str) -> None:
    module, _, attr = target.partition(":")
    base = Path(*module.split("."))
    source = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
    _defines(_exists(str(source), "module"), attr or "app")


def make(argv: list[str]) -> None:
    text = _exists("Makefile", "file").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+):", text, re.MULTILINE)) - {".PHONY"}
    for target in _positional(argv[1:]):
        if "=" not in target and target not in targets:
            raise Malformed(f"the Makefile has no target {target!r} (has {sorted(targets)})")


def daloy_edge(argv: list[str]) -> None:
    from daloy_edge.cli import build_parser

    try:
        args = build_parser().parse_args(argv[1:])
    except SystemExit as exc:
        raise Malformed(f"daloy-edge does not accept {argv[1:]}") from exc
    if getattr(args, "run", None) is None:
        raise Malformed("no daloy-edge sub-command given")
    if argv[1:2] == ["dev"]:
        sys.path.insert(0, str(Path.cwd()))
        _module_target(args.target)


def asgi_server(argv: list[str]) -> None:
    targets = _positional(argv[1:], frozenset({"--host", "--port", "--workers", "--bind", "-b"}))
    if len(targets) != 1:
        raise Malformed(f"{argv[0]} needs exactly one module:attribute")
    _module_target(targets[0])


def functions_framework(argv: list[str]) -> None:
    source = _exists(_option(argv, "--source") or "main.py", "source")
    _defines(source, _option(argv, "--target") or "function")


def _cfn_parameters(template: Path) -> set[str]:
    text = template.read_text(encoding="utf-8")
    block = re.search(r"^Parameters:\n((?:[ \t]+.*\n|\n)*)", text, re.MULTILINE)
    return set(re.findall(r"^  ([A-Za-z0-9]+):", block.group(1), re.MULTILINE)) if block else set()


def sam(argv: list[str]) -> None:
    sub = argv[1] if len(argv) > 1 else ""
    if sub not in {"build", "deploy", "validate", "sync", "logs", "delete"}:
        raise Malformed(f"unknown sam sub-command {sub!r}")
    given = _option(argv, "-t", "--template-file", "--template")
    if given is None and sub in {"deploy", "logs", "delete"}:
        return
    template = _exists(given or "template.yaml", "template")
    flag = "--parameter-overrides"
    overrides = argv[argv.index(flag) + 1 :] if flag in argv else []
    declared = _cfn_parameters(template)
    for pair in _positional(overrides):
        name = pair.split("=", 1)[0]
        if "=" in pair and name not in declared:
            raise Malformed(f"{template} declares no parameter {name}")


def _read_variables() -> set[str]:
    found: set[str] = set()
    for folder in ("examples", "daloy_edge/audit"):
        for source in (ROOT / folder).rglob("*.py"):
            found |= set(re.findall(r"DALOY_[A-Z_]+", source.read_text(encoding="utf-8")))
    return found


def wrangler(argv: list[str]) -> None:
    sub = argv[1] if len(argv) > 1 else ""
    known = {"deploy", "dev", "secret", "tail"} | ({"sync"} if argv[0] == "pywrangler" else set())
    if sub not in known:
        raise Malformed(f"unknown {argv[0]} sub-command {sub!r}")
    config = _exists(_option(argv, "-c", "--config") or "wrangler.toml", "config")
    settings = tomllib.loads(config.read_text(encoding="utf-8"))
    main = config.parent / str(settings.get("main", ""))
    if sub in {"deploy", "dev"} and not main.is_file():
        raise Malformed(f"{config} names main {settings.get('main')!r}, which does not exist")
    if sub == "secret":
        words = _positional(argv[2:], frozenset({"-c", "--config", "--env", "-e"}))
        if len(words) != 2 or words[0] not in {"put", "delete", "list"}:
            raise Malformed("wrangler secret put|delete NAME")
        if words[1] not in _read_variables():
            raise Malformed(f"{words[1]} is not a variable the app reads")


def terraform(argv: list[str]) -> None:
    directory = Path(".")
    rest = argv[1:]
    if rest and rest[0].startswith("-chdir="):
        directory = _exists(rest.pop(0).split("=", 1)[1], "directory")
    if not rest or rest[0] not in {"init", "plan", "apply", "validate", "destroy", "fmt"}:
        raise Malformed(f"unknown terraform sub-command {rest[:1]}")
    sources = "\n".join(p.read_text(encoding="utf-8") for p in directory.glob("*.tf"))
    if not sources:
        raise Malformed(f"no .tf files in {directory}")
    for i, word in enumerate(rest):
        value = word.split("=", 1)[1] if word.startswith("-var=") else None
        if word == "-var" and i + 1 < len(rest):
            value = rest[i + 1]
        if value is not None and f'variable "{value.split("=", 1)[0]}"' not in sources:
            raise Malformed(f"{directory} declares no variable {value.split('=', 1)[0]}")


def gcloud(argv: list[str]) -> None:
    if argv[1:4] == ["secrets", "versions", "add"]:
        _secret_version(argv)
        return
    if argv[1:3] != ["functions", "deploy"]:
        raise Malformed(f"no verifier for `gcloud {' '.join(argv[1:3])}`")
    source = _exists(_option(argv, "--source") or ".", "source")
    _defines(source / "main.py", _option(argv, "--entry-point") or "")
    runtime = _option(argv, "--runtime") or ""
    if not re.fullmatch(r"python3\d\d", runtime):
        raise Malformed(f"--runtime {runtime!r} is not a Python 3 runtime")
    # A 2nd-generation function is given no project id, and without one no line names
    # its trace as Cloud Logging reads it (projects/PROJECT/traces/ID).
    variables = _option(argv, "--set-env-vars", "--update-env-vars") or ""
    if "GOOGLE_CLOUD_PROJECT" not in (pair.split("=", 1)[0] for pair in variables.split(",")):
        raise Malformed("the function is given no GOOGLE_CLOUD_PROJECT (--set-env-vars)")


def _secret_version(argv: list[str]) -> None:
    data_file = _option(argv, "--data-file")
    if data_file is None:
        raise Malformed("give the value with --data-file, never inline")
    if data_file != "-":
        _exists(data_file, "data file")
    names = _positional(argv[4:])
    key = names[0].removeprefix("daloy-edge-").replace("-", "_") if names else ""
    terraform = "\n".join(p.read_text(encoding="utf-8") for p in Path("infra").rglob("*.tf"))
    if not key or not re.search(rf"^\s*{re.escape(key)}\s*=", terraform, re.MULTILINE):
        raise Malformed(f"no secret {names[:1]} is declared under infra/")


AWS_COMMANDS = {
    ("secretsmanager", "put-secret-value"),
    ("secretsmanager", "describe-secret"),
    ("lambda", "update-function-configuration"),
    ("cloudformation", "describe-stacks"),
}


def aws(argv: list[str]) -> None:
    command = tuple(argv[1:3])
    if command not in AWS_COMMANDS:
        raise Malformed(f"no verifier for `aws {' '.join(command)}`")
    if command == ("secretsmanager", "put-secret-value"):
        value = _option(argv, "--secret-string") or ""
        if not value.startswith("file://"):
            raise Malformed("give the secret with --secret-string file://PATH, never inline")
        if _option(argv, "--secret-id") is None:
            raise Malformed("--secret-id is required")
    if command == ("lambda", "update-function-configuration") and not _option(
        argv, "--function-name"
    ):
        raise Malformed("--function-name is required")


def curl(argv: list[str]) -> None:
    urls = [w for w in argv[1:] if w.startswith(("http://", "https://"))]
    if not urls:
        raise Malformed("curl without a URL")
    for url in urls:
        if not re.match(r"^https?://(127\.0\.0\.1|localhost|\[::1\]):\d+/", url):
            raise Malformed(f"{url} is not the local server the block started")


def _locked_packages() -> set[str]:
    return set(re.findall(r'^name = "([^"]+)"', (ROOT / "uv.lock").read_text(), re.MULTILINE))


def _extras() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["optional-dependencies"])


def install(argv: list[str]) -> None:
    if argv[:2] == ["uv", "sync"]:
        return
    if argv[:2] in (["pip", "install"], ["uv", "add"]):
        words = argv[2:]
    elif argv[:3] == ["uv", "pip", "install"]:
        words = argv[3:]
    else:
        raise Malformed(f"unknown install command {argv[:3]}")
    requirements = _option(words, "-r", "--requirement")
    if requirements is not None:
        _exists(requirements, "requirements file")
    locked, extras = _locked_packages(), _extras()
    for spec in _positional(words, frozenset({"-r", "--requirement", "--group"})):
        name, _, rest = re.split(r"[<>=!~;]", spec, maxsplit=1)[0].partition("[")
        if name.lower() not in locked:
            raise Malformed(f"{name} is not a package of this project's lock file")
        for extra in filter(None, rest.rstrip("]").split(",")):
            if name == "daloy-edge" and extra not in extras:
                raise Malformed(f"daloy-edge has no extra {extra!r}")


def docker(argv: list[str]) -> None:
    if argv[1:2] == ["build"]:
        _exists(_option(argv, "-f", "--file") or "Dockerfile", "Dockerfile")
    elif argv[1:2] != ["run"]:
        raise Malformed(f"unknown docker sub-command {argv[1:2]}")


def bench(argv: list[str]) -> None:
    _exists("bench/__main__.py", "benchmark runner")
    for case in argv[3:]:
        _exists(f"bench/case_{case}.py", "benchmark case")


VERIFIERS: dict[str, Callable[[list[str]], None]] = {
    "make": make,
    "daloy-edge": daloy_edge,
    "uvicorn": asgi_server,
    "hypercorn": asgi_server,
    "functions-framework": functions_framework,
    "sam": sam,
    "wrangler": wrangler,
    "pywrangler": wrangler,
    "terraform": terraform,
    "gcloud": gcloud,
    "aws": aws,
    "curl": curl,
    "pip": install,
    "uv": install,
    "docker": docker,
}


def verify(argv: list[str]) -> None:
    """Raise :class:`Malformed` unless ``argv`` would work from the current directory."""
    if argv[:3] == ["python", "-m", "bench"]:
        bench(argv)
        return
    check = VERIFIERS.get(argv[0]) if argv else None
    if check is None:
        raise Malformed(f"no way to verify {argv[:1]}: run it, or teach verify_command.py")
    check(argv)


if __name__ == "__main__":
    try:
        verify(json.loads(sys.argv[1]))
    except Malformed as exc:
        print(f"verify: {exc}", file=sys.stderr)
        sys.exit(1)
