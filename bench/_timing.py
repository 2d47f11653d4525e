"""Timing helpers shared by the benchmark cases."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    """One measured contender in one case."""

    case: str
    contender: str
    median_us: float
    anchor: str | None = None
    ratio: float | None = None
    unit: str = "µs"


def quick() -> bool:
    """True under ``python -m bench --quick`` (fewer repetitions, same code paths)."""
    return os.environ.get("BENCH_QUICK") == "1"


def reps(full: int, fast: int) -> int:
    """``full`` repetitions normally, ``fast`` in quick mode."""
    return fast if quick() else full


def median_us(fn: Callable[[], object], *, number: int = 1000, repeat: int = 7) -> float:
    """Median over ``repeat`` runs of the mean time of ``number`` calls, in microseconds."""
    number, repeat = reps(number, max(1, number // 5)), reps(repeat, 3)
    for _ in range(min(number, 100)):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def amedian_us(
    fn: Callable[[], Awaitable[object]], *, number: int = 1000, repeat: int = 7
) -> float:
    """:func:`median_us` for a coroutine function, on one reused event loop."""
    loop = asyncio.new_event_loop()
    try:
        return median_us(lambda: loop.run_until_complete(fn()), number=number, repeat=repeat)
    finally:
        loop.close()


def interleaved_us(
    contenders: dict[str, Callable[[], object]], *, number: int = 500, rounds: int = 9
) -> dict[str, float]:
    """Median µs per call of each contender, measured in alternating turns.

    On a shared machine load comes and goes; taking turns spreads it over every
    contender alike, so same-run ratios stay meaningful.
    """
    number, rounds = reps(number, max(1, number // 5)), reps(rounds, 3)
    for fn in contenders.values():
        for _ in range(min(number, 100)):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for turn in range(rounds):
        names = list(contenders)
        names = names[turn % len(names) :] + names[: turn % len(names)]
        for name in names:
            fn = contenders[name]
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def with_ratio(rows: list[Row], anchor: str) -> list[Row]:
    """Attach each row's ratio to the ``anchor`` contender of the same case."""
    base = {r.case: r.median_us for r in rows if r.contender == anchor}
    return [
        Row(r.case, r.contender, r.median_us, anchor, r.median_us / base[r.case], r.unit)
        if base.get(r.case)
        else r
        for r in rows
    ]


def _value(r: Row) -> str:
    if r.unit == "req/s":
        return f"{r.median_us:,.0f} {r.unit}"
    digits = 2 if abs(r.median_us) < 10 else 1
    return f"{r.median_us:,.{digits}f} {r.unit}"


def markdown(rows: list[Row]) -> str:
    """A Markdown table of the rows."""
    lines = ["| case | contender | median | ratio | vs |", "|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        anchor = r.anchor or ""
        lines.append(f"| {r.case} | {r.contender} | {_value(r)} | {ratio} | {anchor} |")
    return "\n".join(lines)
