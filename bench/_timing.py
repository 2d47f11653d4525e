"""Timing helpers shared by the benchmark cases."""

from __future__ import annotations

import asyncio
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


def median_us(fn: Callable[[], object], *, number: int = 1000, repeat: int = 7) -> float:
    """Median over ``repeat`` runs of the mean time of ``number`` calls, in microseconds."""
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


def with_ratio(rows: list[Row], anchor: str) -> list[Row]:
    """Attach each row's ratio to the ``anchor`` contender of the same case."""
    base = {r.case: r.median_us for r in rows if r.contender == anchor}
    return [
        Row(r.case, r.contender, r.median_us, anchor, r.median_us / base[r.case], r.unit)
        if r.case in base
        else r
        for r in rows
    ]


def markdown(rows: list[Row]) -> str:
    """A Markdown table of the rows."""
    lines = ["| case | contender | median | ratio | vs |", "|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        anchor = r.anchor or ""
        value = f"{r.median_us:.1f} {r.unit}"
        lines.append(f"| {r.case} | {r.contender} | {value} | {ratio} | {anchor} |")
    return "\n".join(lines)
