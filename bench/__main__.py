"""Run every benchmark case and save the Markdown table under bench/results/."""

from __future__ import annotations

import importlib
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
        rows = module.run()
        sections.append(f"## {name.removeprefix('case_')}\n\n{markdown(rows)}\n")
    report = "\n".join(sections)
    print(report)
    out = Path(__file__).parent / "results" / time.strftime("%Y-%m-%d-%H%M%S.md")
    out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
