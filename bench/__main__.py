"""Run every benchmark case and save the Markdown table under bench/results/."""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

import bench
from bench._timing import markdown

CASES = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("case_"))


def main() -> int:
    only = set(sys.argv[1:])
    sections = []
    for name in CASES:
        if only and name.removeprefix("case_") not in only:
            continue
        module = importlib.import_module(f"bench.{name}")
        # Apps log one line per request to stdout; keep those out of the report.
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            rows = module.run()
        sections.append(f"## {name.removeprefix('case_')}\n\n{markdown(rows)}\n")
    report = "\n".join(sections)
    print(report)
    out = Path(__file__).parent / "results" / time.strftime("%Y-%m-%d-%H%M%S.md")
    out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
