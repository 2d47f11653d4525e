"""``leaked-credentials``: no cloud keys, private keys, API tokens or hard-coded secrets.

Every text file is matched against the shapes of real credentials (AWS key ids and secret
keys, PEM private keys, GitHub/GitLab/Slack/Stripe/Google/PyPI/npm tokens, passwords in
URLs) and committed ``.env`` files are read for secret-named values. In non-test Python
code a string literal assigned to a secret-named variable, attribute, keyword or dict key
is flagged when it looks random (long, mixed, high Shannon entropy). AWS's documented
example keys and obvious placeholders are ignored. Build test fixtures at run time (a key
generated in the test) or waive them with a reason.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from pathlib import PurePosixPath

from daloy_edge.verify._astutil import finding_at, parsed_sources
from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._names import is_secret_name
from daloy_edge.verify._project import Project, SourceFile

__all__ = ["GATE", "entropy"]

_BEGIN = "-----BEGIN"
_SHAPES = {
    "AWS access key id": r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|ABIA|ACCA)[0-9A-Z]{16}\b",
    "AWS secret access key": (
        r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?"
        r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
    ),
    "private key": _BEGIN
    + r" (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----",
    "GitHub token": r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{60,}",
    "GitLab token": r"\bglpat-[A-Za-z0-9_\-]{20}\b",
    "Slack token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "Slack webhook": r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,}",
    "Stripe live key": r"\b(?:sk|rk)_live_[A-Za-z0-9]{20,}",
    "Google API key": r"\bAIza[0-9A-Za-z_\-]{35}\b",
    "PyPI token": r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}",
    "npm token": r"\bnpm_[A-Za-z0-9]{36}\b",
    "password in URL": r"\b[a-z][a-z0-9+.\-]*://[\w.~%!$&*+,;=-]+:([\w.~%!$&*+,;=-]{8,})@[\w.\-]+",
}
_BASE64 = re.compile(r"[A-Za-z0-9+/=]")
_MIN_KEY_BODY = 60
_PATTERNS = tuple((label, re.compile(shape)) for label, shape in _SHAPES.items())
_PLACEHOLDER = re.compile(
    r"example|sample|dummy|placeholder|changeme|change-me|your[_-]|xxxx|\*\*\*|<|\$\{|\{\{|"
    r"fake|not-a-real|redacted|secret-here|password|passw0rd|hunter2",
    re.IGNORECASE,
)
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    total = len(text)
    return -sum(c / total * math.log2(c / total) for c in counts.values())


_KEY_ALPHABET = re.compile(r"[A-Za-z0-9+/=_\-.~:@!#%&]+")


def _looks_random(value: str) -> bool:
    """Long, of a key's alphabet (base64, hex, url-safe), mixed, and high in entropy."""
    if len(value) < 16 or not _KEY_ALPHABET.fullmatch(value) or _PLACEHOLDER.search(value):
        return False
    if len(set(value)) < 8:
        return False
    if re.fullmatch(r"[0-9a-fA-F]+", value):
        return len(value) >= 32 and entropy(value) >= 3.0
    has_digit = any(ch.isdigit() for ch in value)
    has_alpha = any(ch.isalpha() for ch in value)
    return len(value) >= 20 and has_digit and has_alpha and entropy(value) >= 4.0


def _patterns(rel: str, text: str) -> list[Finding]:
    findings = []
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        if len(line) <= 4000:
            for label, pattern in _PATTERNS:
                for match in pattern.finditer(line):
                    if label == "private key":
                        keep = _whole_key(text, offset + match.end())
                    else:
                        keep = not _PLACEHOLDER.search(match.group(match.lastindex or 0))
                    if keep:
                        findings.append(
                            Finding(rel, number, f"{label} committed", match.start() + 1)
                        )
        offset += len(line)
    return findings


def _whole_key(text: str, start: int) -> bool:
    """A BEGIN line counts only when a key body follows up to its END line: redaction
    tests and docs carry headers with a stub body, which are not keys."""
    end = text.find("-----END", start, start + 20_000)
    if end < 0:
        return False
    body = text[start:end].replace("\\n", "")
    return len(_BASE64.findall(body)) >= _MIN_KEY_BODY


def _dotenv(rel: str, text: str) -> list[Finding]:
    name = PurePosixPath(rel).name
    if not name.startswith(".env") or name.endswith((".example", ".sample", ".template", ".dist")):
        return []
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _ENV_LINE.match(line)
        if match and is_secret_name(match[1]):
            value = match[2].strip("'\"")
            if value and not _PLACEHOLDER.search(value):
                findings.append(
                    Finding(rel, number, f"{match[1]} has a value in a committed {name}")
                )
    return findings


def _literal_secrets(source: SourceFile, tree: ast.Module) -> list[Finding]:
    findings = []
    for node in ast.walk(tree):
        pairs: list[tuple[str, ast.expr | None]] = []
        if isinstance(node, ast.Assign):
            pairs = [(n, node.value) for t in node.targets for n in _names(t)]
        elif isinstance(node, ast.AnnAssign):
            pairs = [(n, node.value) for n in _names(node.target)]
        elif isinstance(node, ast.keyword) and node.arg:
            pairs = [(node.arg, node.value)]
        elif isinstance(node, ast.Dict):
            pairs = [
                (k.value, v)
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            ]
        for name, value in pairs:
            if (
                isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and is_secret_name(name)
                and _looks_random(value.value)
            ):
                findings.append(finding_at(source, value, f"hard-coded secret in `{name}`"))
    return findings


def _names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Attribute):
        return [target.attr]
    return []


def check(project: Project) -> Outcome:
    """Scan text files for credential shapes and Python code for hard-coded secrets."""
    findings: list[Finding] = []
    files = project.text_files()
    for rel, text in files:
        findings.extend(_patterns(rel, text))
        findings.extend(_dotenv(rel, text))
    for source, tree in parsed_sources(project, []):
        findings.extend(_literal_secrets(source, tree))
    return Outcome(sorted(set(findings)), f"{len(files)} text files")


GATE = Gate("leaked-credentials", "no keys, tokens or high-entropy secrets committed", check)
