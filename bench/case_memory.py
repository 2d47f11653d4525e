"""A 100 MB chunked request body against the reference app under uvicorn: the server's RSS.

Limit: RSS must never rise by more than 2x the route's body limit. The reference app
(configured for production) runs under one uvicorn worker on 127.0.0.1, a fresh server
per route; a small request first does the lazy imports, then the server's peak RSS is
reset (``/proc/<pid>/clear_refs``) and read back (``VmHWM``) around one upload, and around
uploads in a row (what the server keeps until its garbage collector runs). The client stops
sending once the server has answered. The floor is a raw ASGI app that answers 413 at the
first chunk: what uvicorn and asyncio hold whatever the app. Cold peak RSS: ``serverless``.
"""

from __future__ import annotations

from bench import _env, _servers
from bench._timing import Row, reps
from bench.anchors.common import reference_env, token
from tests.support.memory import MIB, peak_rss, rss_kib, stream_chunked

TOTAL = 100 * MIB
KIB = 1024


def _routes() -> list[tuple[str, str, int, dict[str, str]]]:
    json_type = {"content-type": "application/json"}
    bearer = {**json_type, "authorization": f"Bearer {token()}"}
    return [
        ("POST /webhooks/ingest (app default)", "/webhooks/ingest", 1024 * KIB, json_type),
        ("POST /api/reports (route limit)", "/api/reports", 64 * KIB, bearer),
        ("POST /session/login (route limit)", "/session/login", 1 * KIB, json_type),
    ]


def _upload(
    port: int, pid: int, path: str, headers: dict[str, str], times: int
) -> tuple[int, int, float]:
    """Peak RSS growth over ``times`` uploads in a row, the last status and MB sent."""
    with peak_rss(pid) as rss:
        for _ in range(times):
            result = stream_chunked(port, path, TOTAL, headers=headers)
    return rss.growth, result.status, result.sent / MIB


def _floor(port: int, pid: int, path: str, headers: dict[str, str]) -> int:
    with peak_rss(pid) as rss:
        stream_chunked(port, path, 500, headers=headers)
    return rss.growth


def run() -> list[Row]:
    """Peak RSS growth per route, as a multiple of its body limit."""
    python = _env.prepare()
    rows = []
    env = {**reference_env(), "DALOY_MAX_BODY_BYTES": str(1024 * KIB)}
    for label, path, limit, headers in _routes():
        # A fresh server per route: heap freed by one route would hide the next one's growth.
        with _servers.uvicorn(python, "examples.secure_app:asgi", env=env, path="/health") as s:
            port, pid = s.port, s.pid
            stream_chunked(port, path, 1000, headers=headers)  # lazy imports, not counted
            case = f"{label}, limit {limit // KIB} KiB"
            before = rss_kib(pid)["VmRSS"] * KIB
            floor = _floor(port, pid, path, headers)
            once, status, sent = _upload(port, pid, path, headers, 1)
            many, _, _ = _upload(port, pid, path, headers, reps(20, 5))
            after = rss_kib(pid)["VmRSS"] * KIB
            verdict = "within" if once <= 2 * limit else "over"
            rows += [
                Row(case, "server RSS before", before / MIB, unit="MB"),
                Row(case, "peak growth, a 500-byte request (floor)", floor / MIB, unit="MB"),
                Row(
                    case,
                    f"peak growth, one 100 MB upload (answered {status}; {verdict} 2x the limit)",
                    once / MIB,
                    "body limit",
                    once / limit,
                    "MB",
                ),
                Row(
                    case,
                    f"peak growth, {reps(20, 5)} uploads in a row",
                    many / MIB,
                    "body limit",
                    many / limit,
                    "MB",
                ),
                Row(case, "server RSS after", after / MIB, unit="MB"),
                Row(case, "client had sent when answered", sent, unit="MB"),
            ]
    rows += _floor_rows(python)
    return rows


def _floor_rows(python: str) -> list[Row]:
    target, json_type = "bench.anchors.asgi_apps:refuse_body", {"content-type": "application/json"}
    with _servers.uvicorn(python, target, factory=True, path="/hello") as s:
        stream_chunked(s.port, "/any", 1000, headers=json_type)
        once, status, _ = _upload(s.port, s.pid, "/any", json_type, 1)
        many, _, _ = _upload(s.port, s.pid, "/any", json_type, reps(20, 5))
    case = "floor: raw ASGI app refusing at the first chunk"
    return [
        Row(case, f"peak growth, one 100 MB upload (answered {status})", once / MIB, unit="MB"),
        Row(case, f"peak growth, {reps(20, 5)} uploads in a row", many / MIB, unit="MB"),
    ]
