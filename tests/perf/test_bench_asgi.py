"""The benchmark's ASGI case: its throughput ratios."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from bench import _servers, case_asgi
from bench._load import Load


def test_throughput_ratios_survive_failed_requests_against_the_anchor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @contextlib.contextmanager
    def serve(python: str, target: str, **kwargs: object) -> Iterator[_servers.Served]:
        yield _servers.Served(port=8000, pid=1)

    def load(wrk: str | None, url: str, seconds: float) -> Load:
        return Load(10_000.0, 3.0, non_2xx=2, tool="wrk")

    monkeypatch.setattr(_servers, "uvicorn", serve)
    monkeypatch.setattr(_servers, "status_kib", lambda pid: {"VmHWM": 30_000})
    monkeypatch.setattr(case_asgi, "run_load", load)

    rows = case_asgi._measure("python", "wrk", "h11, asyncio", "h11", "asyncio")

    throughput = [r for r in rows if r.case.startswith("throughput")]
    assert throughput
    assert all(r.ratio == 1.0 and r.contender.endswith(" non-2xx)") for r in throughput)
