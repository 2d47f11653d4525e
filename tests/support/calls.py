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

    Told by ``sys.monitoring`` where it exists (3.12 on), where a tracer's opcode events
    missed frames already running; by a tracer before, putting back any already set."""
    count = 0
    collecting = gc.isenabled()
    gc.disable()
    try:
        monitoring = getattr(sys, "monitoring", None)
        if monitoring is None:
            return _traced(run)
        tool = 4  # none of the ids Python names (debugger, coverage, profiler, optimizer)

        def counting(code: object, offset: int) -> None:
            nonlocal count
            count += 1

        monitoring.use_tool_id(tool, "instructions_run")
        try:
            monitoring.register_callback(tool, monitoring.events.INSTRUCTION, counting)
            monitoring.set_events(tool, monitoring.events.INSTRUCTION)
            try:
                run()
            finally:
                monitoring.set_events(tool, 0)
        finally:
            monitoring.free_tool_id(tool)
        return count
    finally:
        if collecting:
            gc.enable()


def _traced(run: Callable[[], object]) -> int:
    count = 0

    def counting(frame: FrameType, event: str, arg: object) -> object:
        nonlocal count
        count += event == "opcode"
        return counting

    def calling(frame: FrameType, event: str, arg: object) -> object:
        frame.f_trace_opcodes = True
        return counting

    previous = sys.gettrace()
    sys.settrace(calling)
    try:
        run()
    finally:
        sys.settrace(previous)
    return count
