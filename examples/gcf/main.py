"""Google Cloud Functions entry point for the reference app.

Serve it locally the way Cloud Functions does::

    functions-framework --source examples/gcf/main.py --target gcf_handler

functions-framework loads this file by path and puts only this folder on ``sys.path``,
so the repository root is added here; in a deployed function the ``examples`` package
sits beside ``main.py`` and the line does nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from examples.secure_app import gcf_handler  # noqa: E402

__all__ = ["gcf_handler"]
