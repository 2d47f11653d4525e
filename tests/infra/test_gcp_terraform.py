"""The Cloud Function the Terraform deploys writes lines Cloud Logging joins to its trace.

Cloud Logging reads a line's trace only as ``projects/PROJECT/traces/TRACE_ID``, and a
2nd-generation function (Cloud Run underneath) is given no project id: the platform sets
``K_SERVICE`` and ``FUNCTION_TARGET``, not ``GOOGLE_CLOUD_PROJECT`` or ``GCP_PROJECT``. So
the deployment must name it, or no line of the function is joined to its request log
entry or to Cloud Trace.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from daloy_edge import App
from daloy_edge.observability import LogConfig, MemorySink, RequestLog
from daloy_edge.scaffold import generate
from daloy_edge.testing import TestClient
from tests.support.servers import ROOT

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
# What Cloud Run sets in a function's container (its runtime contract), nothing more.
PLATFORM = {"K_SERVICE": "app", "K_REVISION": "app-00001", "FUNCTION_TARGET": "gcf_handler"}


def function_environment(terraform: str, project: str) -> dict[str, str]:
    """The google_cloudfunctions2_function's environment_variables, var.project given."""
    block = re.search(r"environment_variables\s*=\s*\{(.*?)\n\s*\}", terraform, re.S)
    assert block is not None
    found: dict[str, str] = {}
    for name, value in re.findall(r"^\s*([A-Z_]+)\s*=\s*(\S+)", block[1], re.M):
        if value == "var.project":
            found[name] = project
        elif value.startswith('"'):
            found[name] = json.loads(value)
    return {**PLATFORM, **found}


def trace_member(env: dict[str, str]) -> object:
    sink = MemorySink()
    app = App(env={}, request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env=env)))

    @app.get("/health")
    async def health(request):
        return {"ok": True}

    TestClient(app).get("/health", headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
    return sink.records[0].get("logging.googleapis.com/trace")


def test_reference_function_lines_are_joined_to_their_cloud_trace():
    terraform = (ROOT / "infra" / "gcp" / "main.tf").read_text(encoding="utf-8")
    env = function_environment(terraform, "shop-prod")
    assert trace_member(env) == f"projects/shop-prod/traces/{TRACE}"


def test_scaffolded_function_lines_are_joined_to_their_cloud_trace(tmp_path: Path):
    generate("shop-api", "gcf", tmp_path)
    terraform = (tmp_path / "infra" / "main.tf").read_text(encoding="utf-8")
    env = function_environment(terraform, "shop-prod")
    assert trace_member(env) == f"projects/shop-prod/traces/{TRACE}"
