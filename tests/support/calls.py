"""Work counted, not timed: the calls a piece of code makes while it runs."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable


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
