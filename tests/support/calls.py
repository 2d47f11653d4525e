"""Work counted, not timed: the calls a piece of code makes, or the instructions it runs."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from types import FrameType


def calls_made(run: Callable[[], object]) -> int:
    """Python and C calls made while ``run`` runs (what a profiler is told of).

    The collector is off meanwhile: a callback another library left in ``gc.callbacks``
    (hypothesis times collections with one) would be counted as the code's own calls."""
    count = 0

    def counting(frame: object, event: str, arg: object) -> None:
        nonlocal count
        count += event in ("call", "c_call")

    collecting = gc.isenabled()
    gc.disable()
    sys.setprofile(counting)
    try:
        run()
    finally:
        sys.setprofile(None)
        if collecting:
            gc.enable()
    return count


def instructions_run(run: Callable[[], object]) -> int:
    """Bytecode instructions that Python code runs while ``run`` runs: a loop whose body
    calls nothing (``if "x" not in part: continue``) is invisible to :func:`calls_made`.

    A tracer already set (coverage's) is put back afterwards."""
    count = 0

    def counting(frame: FrameType, event: str, arg: object) -> object:
        nonlocal count
        count += event == "opcode"
        return counting

    def calling(frame: FrameType, event: str, arg: object) -> object:
        frame.f_trace_opcodes = True
        return counting

    previous = sys.gettrace()
    collecting = gc.isenabled()
    gc.disable()
    sys.settrace(calling)
    try:
        run()
    finally:
        sys.settrace(previous)
        if collecting:
            gc.enable()
    return count
