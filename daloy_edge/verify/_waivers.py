"""Waivers: a finding is accepted only where someone wrote down why.

Inline, on the flagged line or in the comment lines right above it::

    if expected != sent:  # verify: allow secret-comparisons -- public test vectors only

    # verify: allow weak-random, leaked-credentials -- fixture data, never deployed
    TOKEN = random.choice(WORDS)

For files that cannot carry a comment, ``[[tool.daloy-edge.verify.waive]]`` in pyproject
(see :mod:`daloy_edge.verify._config`). A waiver without a reason waives nothing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from daloy_edge.verify._config import MIN_REASON_CHARS, PathWaiver
from daloy_edge.verify._model import Finding

__all__ = ["InlineWaiver", "apply_waivers", "parse_waiver"]

_WAIVER = re.compile(
    r"verify:\s*allow\s+(?P<gates>[a-z0-9][a-z0-9\-,\s]*?)\s*(?:--\s*(?P<reason>.*))?$"
)
_COMMENT_ONLY = re.compile(r"^\s*(#|//|;|--|<!--)")


@dataclass(frozen=True, slots=True)
class InlineWaiver:
    """A parsed ``verify: allow`` comment."""

    gates: frozenset[str]
    reason: str

    @property
    def has_reason(self) -> bool:
        """True when the reason is long enough to be an actual explanation."""
        return len(self.reason.strip()) >= MIN_REASON_CHARS


def parse_waiver(line: str) -> InlineWaiver | None:
    """The waiver in a line's comment, if there is one."""
    index = line.find("verify:")
    if index < 0 or ("#" not in line[:index] and not _COMMENT_ONLY.match(line)):
        return None
    match = _WAIVER.search(line[index:].rstrip().removesuffix("-->").rstrip())
    if match is None:
        return None
    gates = frozenset(g.strip() for g in match["gates"].replace(",", " ").split() if g.strip())
    return InlineWaiver(gates, (match["reason"] or "").strip())


def _candidates(lines: list[str], line_no: int) -> Iterable[tuple[int, InlineWaiver]]:
    if 1 <= line_no <= len(lines):
        waiver = parse_waiver(lines[line_no - 1])
        if waiver is not None:
            yield line_no, waiver
    above = line_no - 1
    while 1 <= above <= len(lines) and _COMMENT_ONLY.match(lines[above - 1]):
        waiver = parse_waiver(lines[above - 1])
        if waiver is not None:
            yield above, waiver
        above -= 1


def apply_waivers(
    gate: str,
    findings: Iterable[Finding],
    text_of: Callable[[str], str | None],
    path_waivers: Iterable[PathWaiver] = (),
) -> tuple[list[Finding], int]:
    """Drop the findings waived with a reason; returns (kept findings, how many were waived)."""
    by_path = [w for w in path_waivers if w.gate == gate]
    kept: list[Finding] = []
    waived = 0
    lines_cache: dict[str, list[str]] = {}
    for finding in findings:
        if finding.path and any(
            fnmatch.fnmatch(finding.path, w.path) and w.match in finding.message for w in by_path
        ):
            waived += 1
            continue
        if finding.path not in lines_cache:
            text = text_of(finding.path) if finding.path else None
            lines_cache[finding.path] = text.splitlines() if text else []
        verdict = _inline_verdict(gate, lines_cache[finding.path], finding.line)
        if verdict is True:
            waived += 1
        elif verdict is None:
            kept.append(finding)
        else:
            kept.append(
                Finding(
                    finding.path,
                    finding.line,
                    f"{finding.message} (the waiver on line {verdict} gives no reason)",
                    finding.col,
                )
            )
    return kept, waived


def _inline_verdict(gate: str, lines: list[str], line_no: int) -> bool | int | None:
    """True if waived, the waiver's line if it lacks a reason, None if there is no waiver."""
    unexplained: int | None = None
    for at, waiver in _candidates(lines, line_no):
        if gate in waiver.gates:
            if waiver.has_reason:
                return True
            unexplained = unexplained or at
    return unexplained
