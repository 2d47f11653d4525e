"""Run gates over a project, apply waivers, and render the results."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence

from daloy_edge.verify._model import Finding, Gate, GateResult, Outcome, Status
from daloy_edge.verify._project import Project
from daloy_edge.verify._registry import GATES
from daloy_edge.verify._waivers import apply_waivers

__all__ = ["render_json", "render_text", "run_gate", "run_gates"]


def run_gate(project: Project, gate: Gate) -> GateResult:
    """Run one gate; a gate that crashes fails with the error rather than hiding others."""
    started = time.perf_counter()
    try:
        outcome = gate.check(project)
    except Exception as exc:  # a broken gate must fail loudly, not stop the rest
        outcome = Outcome([Finding("", 0, f"gate crashed: {type(exc).__name__}: {exc}")])
    findings, waived = apply_waivers(
        gate.name, outcome.findings, project.text, project.config.waivers
    )
    seconds = time.perf_counter() - started
    findings.sort()
    if findings:
        status = Status.FAIL
        noun = "finding" if len(findings) == 1 else "findings"
        detail = f"{len(findings)} {noun}"
    elif outcome.skipped:
        status, detail = Status.SKIP, outcome.skipped
    else:
        status, detail = Status.PASS, outcome.checked
    if waived:
        detail += f" ({waived} waived)"
    return GateResult(gate.name, status, detail, tuple(findings), tuple(outcome.notes), seconds)


def run_gates(project: Project, only: Iterable[str] | None = None) -> list[GateResult]:
    """Run the named gates (all of them by default) in registry order."""
    wanted = set(only) if only is not None else None
    return [run_gate(project, g) for g in GATES if wanted is None or g.name in wanted]


def render_text(results: Sequence[GateResult], root: str, *, verbose: bool = False) -> str:
    """One line per gate, findings indented under a failing gate."""
    width = max((len(r.name) for r in results), default=0)
    lines = [f"daloy-edge verify {root}"]
    for result in results:
        mark = {Status.PASS: "pass", Status.FAIL: "FAIL", Status.SKIP: "skip"}[result.status]
        lines.append(f"  {mark}  {result.name.ljust(width)}  {result.detail}")
        lines.extend(f"        {f.location()}  {f.message}" for f in result.findings)
        if verbose:
            lines.extend(f"        note: {note}" for note in result.notes)
    counts = {s: sum(r.status is s for r in results) for s in Status}
    total = sum(r.seconds for r in results)
    lines.append(
        f"{len(results)} gates: {counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, "
        f"{counts[Status.SKIP]} skipped in {total:.1f} s"
    )
    return "\n".join(lines)


def render_json(results: Sequence[GateResult], root: str) -> str:
    """The results as one JSON document."""
    return json.dumps(
        {
            "root": root,
            "ok": all(r.status is not Status.FAIL for r in results),
            "gates": [r.to_json() for r in results],
        },
        indent=2,
    )
