"""``invisible-unicode``: no bidi controls, zero-width or tag characters in any text file.

Trojan Source (CVE-2021-42574): bidirectional overrides make code read differently from
how it runs, and zero-width or tag characters hide text in identifiers, strings and
comments. Escapes such as ``"\\u202e"`` are fine; the raw characters are not. A byte-order
mark at the very start of a file is allowed. In Python files, identifiers must also be
ASCII, which rules out homoglyphs (a Cyrillic letter a inside ``password``).
"""

from __future__ import annotations

import io
import tokenize
import unicodedata

from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project

__all__ = ["GATE", "INVISIBLE"]

INVISIBLE = frozenset(
    [0x061C, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063,
     0x2064, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0xE0000, 0xE0080)]
)  # fmt: skip


def _invisible(rel: str, text: str) -> list[Finding]:
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        for column, char in enumerate(line, 1):
            if ord(char) in INVISIBLE and not (number == 1 and column == 1 and char == "\ufeff"):
                name = unicodedata.name(char, f"U+{ord(char):04X}")
                findings.append(
                    Finding(rel, number, f"invisible character U+{ord(char):04X} {name}", column)
                )
    return findings


def _identifiers(rel: str, text: str) -> list[Finding]:
    findings: list[Finding] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return findings
    for tok in tokens:
        if tok.type == tokenize.NAME and not tok.string.isascii():
            findings.append(
                Finding(
                    rel,
                    tok.start[0],
                    f"non-ASCII identifier {tok.string!r} (possible homoglyph)",
                    tok.start[1] + 1,
                )
            )
    return findings


def check(project: Project) -> Outcome:
    """Scan every text file of the project."""
    findings: list[Finding] = []
    files = project.text_files()
    for rel, text in files:
        if text.isascii():
            continue
        findings.extend(_invisible(rel, text))
        if rel.endswith(".py"):
            findings.extend(_identifiers(rel, text))
    return Outcome(findings, f"{len(files)} text files")


GATE = Gate(
    "invisible-unicode", "no bidi controls, zero-width characters or homoglyph names", check
)
