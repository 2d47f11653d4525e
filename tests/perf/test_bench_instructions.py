"""The benchmark's instructions case counts running code, never compiling it."""

from __future__ import annotations

import pytest

from bench import _child, case_instructions
from bench.anchors import common


def test_instruction_counts_never_include_compiling_bytecode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_first: set[str] = set()
    counted_before_a_run: list[str] = []

    def run_uncounted(python: str, code: str, env: dict[str, str]) -> tuple[float, str]:
        run_first.add(code)
        return 0.0, ""

    def count(python: str, code: str, env: dict[str, str]) -> int:
        if code not in run_first:
            counted_before_a_run.append(code)
        return 1_000_000 + 1_000 * int(env.get("BENCH_N", "0"))

    monkeypatch.setattr(case_instructions.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(case_instructions._env, "prepare", lambda: "python")
    # The anchors' keys and tokens are made by preparing their environment, skipped here.
    monkeypatch.setattr(common, "token", lambda: "a.b.c")
    monkeypatch.setattr(common, "tokens", lambda: ["a.b.c"])
    monkeypatch.setattr(_child, "child_env", lambda extra={}, **kw: dict(extra))
    monkeypatch.setattr(_child, "cold", run_uncounted)
    monkeypatch.setattr(case_instructions, "_instructions", count)

    rows = case_instructions.run()

    assert rows
    assert counted_before_a_run == []
