"""Supply-chain and code-pattern gates: ``daloy-edge verify [PATH]``.

Each gate is AST- or metadata-based and reports findings as ``path:line``. Waive a finding
only with a written reason: ``# verify: allow <gate> -- <reason>`` on the flagged line or
the comment line above it (``[[tool.daloy-edge.verify.waive]]`` in pyproject for files that
cannot hold a comment).

>>> from daloy_edge.verify import Project, run_gates
>>> results = run_gates(Project("."), only=["invisible-unicode"])  # doctest: +SKIP
"""

from daloy_edge.verify._config import PathWaiver, VerifyConfig
from daloy_edge.verify._model import Finding, Gate, GateResult, Outcome, Status
from daloy_edge.verify._project import Project
from daloy_edge.verify._registry import GATES, gate_names
from daloy_edge.verify._runner import render_json, render_text, run_gate, run_gates

__all__ = [
    "GATES",
    "Finding",
    "Gate",
    "GateResult",
    "Outcome",
    "PathWaiver",
    "Project",
    "Status",
    "VerifyConfig",
    "gate_names",
    "render_json",
    "render_text",
    "run_gate",
    "run_gates",
]
