"""Turn a documented shell block into a script: safe commands run, the rest are verified.

Commands that start a long-lived server, deploy to a cloud, install packages or run for
minutes are replaced by a call to ``verify_command.py``, which checks that they are
well-formed where they would run (the Makefile target exists, the paths and names they
give exist). Once a block has started a server, every later command in it talks to
that server, so it is verified too. Everything else runs, in order, under ``bash -e``.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

VERIFY_SCRIPT = Path(__file__).with_name("verify_command.py")

SERVERS = {
    ("make", "dev"),
    ("daloy-edge", "dev"),
    ("uvicorn",),
    ("hypercorn",),
    ("functions-framework",),
    ("wrangler", "dev"),
    ("pywrangler", "dev"),
    ("docker", "run"),
}
"""Commands that start a server and do not return."""

VERIFIED = {
    "make",  # make dev / test / bench: servers, the whole suite, minutes of benchmarks
    "sam",
    "wrangler",
    "pywrangler",  # wrangler with the Worker's Python packages vendored
    "terraform",
    "gcloud",
    "aws",
    "docker",
    "curl",  # talks to a server the block started
    "pip",
    "uv",  # uv add / uv pip install / uv sync change an environment
    "uvicorn",
    "hypercorn",
    "functions-framework",
}
"""Programs that are verified rather than run."""

VERIFIED_SUBCOMMANDS = {("daloy-edge", "verify")}
"""Sub-commands that are verified rather than run (the whole supply-chain gate, minutes)."""

_EXPECT = re.compile(r"#.*\bexit status (\d+)")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SUBSTITUTION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=\$\((.*)\)$")
_UV_RUN = re.compile(r"^((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)uv\s+run(?:\s+--[a-z-]+)*\s+")
_HEREDOC = re.compile(r"<<-?\s*'?\"?([A-Za-z_]+)'?\"?")


@dataclass
class _State:
    server_started: bool = False


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts, current, quote = [], [], ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif text.startswith(separator, i):
            parts.append("".join(current))
            current = []
            i += len(separator)
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line


def logical_lines(code: str) -> list[str]:
    """Lines with backslash continuations joined and heredoc bodies kept with their line."""
    raw = code.splitlines()
    lines: list[str] = []
    i = 0
    while i < len(raw):
        line = raw[i]
        i += 1
        while line.endswith("\\") and i < len(raw):
            line = line[:-1] + " " + raw[i].strip()
            i += 1
        heredoc = _HEREDOC.search(_strip_comment(line))
        if heredoc:
            body = []
            while i < len(raw) and raw[i].strip() != heredoc.group(1):
                body.append(raw[i])
                i += 1
            line = "\n".join([line, *body, raw[i] if i < len(raw) else heredoc.group(1)])
            i += 1
        lines.append(line)
    return lines


def program(words: list[str]) -> list[str]:
    """``words`` without leading ``NAME=value`` assignments and a ``uv run`` prefix."""
    rest = list(words)
    while rest and _ASSIGN.match(rest[0]):
        rest.pop(0)
    if rest[:2] == ["uv", "run"]:
        rest = rest[2:]
        while rest and rest[0].startswith("--"):
            rest.pop(0)
    if rest[:3] in (["python", "-m", "pip"], ["python3", "-m", "pip"]):
        rest = ["pip", *rest[3:]]
    return rest


def _is_server(argv: list[str]) -> bool:
    return any(tuple(argv[: len(s)]) == s for s in SERVERS)


def _verified(argv: list[str]) -> bool:
    return (
        argv[0] in VERIFIED
        or tuple(argv[:2]) in VERIFIED_SUBCOMMANDS
        or argv[:3] == ["python", "-m", "bench"]
    )


def _verify_call(argv: list[str]) -> str:
    return f'"$DOCS_PYTHON" {shlex.quote(str(VERIFY_SCRIPT))} {shlex.quote(json.dumps(argv))}'


def _segment(segment: str, state: _State) -> str:
    text = segment.strip()
    substitution = _SUBSTITUTION.match(text)
    if substitution and state.server_started:
        return _verify_call(program(shlex.split(substitution.group(2))))
    words = shlex.split(text)
    argv = program(words)
    if not argv or argv[0] == "cd":
        return text
    if _is_server(argv):
        state.server_started = True
        return _verify_call(argv)
    if state.server_started or _verified(argv):
        return _verify_call(argv)
    # ``uv run X`` runs X from this environment, whose binaries are already on PATH.
    return _UV_RUN.sub(r"\1", text, count=1)


def _expect(command: str, status: int) -> str:
    return (
        f"set +e\n{command}\nstatus=$?\nset -e\n"
        f'[ "$status" -eq {status} ] || {{ echo "expected exit status {status}, got $status" >&2; '
        "exit 1; }"
    )


def to_script(code: str) -> str:
    """The bash script that runs or verifies every command of a documented block."""
    state = _State()
    out = []
    for line in logical_lines(code):
        head, _, body = line.partition("\n")
        expected = _EXPECT.search(head)
        command = _strip_comment(head)
        if not command.strip():
            continue
        if body:
            out.append(command + "\n" + body)
            continue
        joined = " && ".join(_segment(s, state) for s in _split_outside_quotes(command, "&&"))
        out.append(_expect(joined, int(expected.group(1))) if expected else joined)
    return "\n".join(out) + "\n"
