from __future__ import annotations

import subprocess
import sys

import daloy_edge.verify


def test_public_names_are_pinned():
    assert sorted(daloy_edge.verify.__all__) == [
        "Finding",
        "GATES",
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


def test_importing_the_core_does_not_load_the_gates():
    code = "import sys, daloy_edge; print('daloy_edge.verify' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
