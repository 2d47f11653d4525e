"""Observability: what the request log, redaction and trace parsing cost per request.

"no request log" is the same app with ``request_log=False``: the difference is the whole
per-request price of the default logger (trace context, attributes, JSON, one write).
Lines go to a null stream so the terminal is not what gets measured.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._timing import Row, interleaved_us, median_us, reps, with_ratio

ROOT = Path(__file__).resolve().parent.parent
CASE_REQUEST = "warm: GET /items/{id} through App.handle"
CASE_COLD = "cold: python -c 'import daloy_edge'"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class _Null(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def _app(request_log: object):
    from daloy_edge import App, Response

    app = App(env={}, request_log=request_log)  # type: ignore[arg-type]

    @app.get("/items/{item_id}")
    async def item(request):
        return Response.json({"id": request.path_params["item_id"]})

    return app


def request_rows() -> list[Row]:
    from daloy_edge import Headers, Request
    from daloy_edge.observability import LogConfig, RequestLog, StreamSink

    null = _Null()
    contenders = {
        "no request log": _app(False),
        "default request log": _app(RequestLog(LogConfig(stdout=False, sinks=[StreamSink(null)]))),
        "+ headers, span record": _app(
            RequestLog(
                LogConfig(stdout=False, sinks=[StreamSink(null)], log_headers=True, spans=True)
            )
        ),
        "+ EMF line (Lambda)": _app(
            RequestLog(
                LogConfig(
                    stdout=False,
                    sinks=[StreamSink(null)],
                    metrics=True,
                    metrics_sinks=[StreamSink(null)],
                )
            )
        ),
    }
    headers = [
        ("host", "api.example.com"),
        ("user-agent", "bench/1.0"),
        ("authorization", "Bearer abc.def.ghi"),
        ("traceparent", TRACEPARENT),
    ]
    loop = asyncio.new_event_loop()

    def once(app: Any) -> Callable[[], object]:
        def call() -> object:
            request = Request("GET", "/items/42", headers=Headers(headers), client="10.0.0.1")
            return loop.run_until_complete(app.handle(request))

        return call

    try:
        timings = interleaved_us({name: once(app) for name, app in contenders.items()})
    finally:
        loop.close()
    rows = [Row(CASE_REQUEST, name, us) for name, us in timings.items()]
    return with_ratio(rows, "no request log")


def primitive_rows() -> list[Row]:
    from daloy_edge import Headers
    from daloy_edge.observability import extract, redact, scrub_text

    body = {
        "user": {
            "name": "ana",
            "password": "x",
            "addresses": [{"city": "Cebu", "zip": "6000"}] * 3,
        },
        "items": [{"sku": f"s{i}", "qty": i, "token": "t"} for i in range(10)],
        "note": "call me",
    }
    path = "/api/reports/2024/q3/" + "segment/" * 20
    headers = Headers({"traceparent": TRACEPARENT, "tracestate": "rojo=1,congo=2"})
    return [
        Row("redact: 40-node JSON body", "Redactor.redact", median_us(lambda: redact(body))),
        Row("scrub: 180-char path", "scrub_text", median_us(lambda: scrub_text(path))),
        Row("trace: traceparent + tracestate", "extract", median_us(lambda: extract(headers))),
    ]


def _cold_us(code: str) -> float:
    runs = reps(9, 3)
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import time; t=time.perf_counter(); {code}; print((time.perf_counter()-t)*1e6)",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    samples.sort()
    return samples[len(samples) // 2]


def cold_rows() -> list[Row]:
    rows = [
        Row(CASE_COLD, "import json (anchor)", _cold_us("import json")),
        Row(CASE_COLD, "import daloy_edge (request log included)", _cold_us("import daloy_edge")),
    ]
    return with_ratio(rows, "import json (anchor)")


def run() -> list[Row]:
    return request_rows() + primitive_rows() + cold_rows()
