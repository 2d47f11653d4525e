"""Shared fixtures: the repository root is importable so ``examples`` resolves."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Session-wide Pyodide harness (fixture ``workers_harness``) for every Workers test, and
# ``type_errors`` for the tests of what a user's type checker sees.
pytest_plugins = ["tests.support.workers", "tests.support.typecheck"]
