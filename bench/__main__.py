"""Run the benchmark cases and print one Markdown report, saved under bench/results/.

``python -m bench [--quick] [--no-save] [case ...]`` (``make bench`` runs it all). The
anchors' isolated environment and the load generator are installed first when missing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path

import bench
from bench import _env
from bench._timing import markdown

CASES = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("case_"))
RESULTS = Path(__file__).parent / "results"
HOW_TO_READ = (
    "Medians; each ratio divides the row's median by the named anchor's, measured in the "
    "same run (contenders take turns). For µs, ms and MB lower is better; for req/s higher is."
)


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("cases", nargs="*", help="case names (default: every bench/case_*.py)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    unknown = {c for c in args.cases if f"case_{c}" not in CASES}
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; known: {[c[5:] for c in CASES]}")
    return args


def _section(name: str) -> tuple[str, bool]:
    """The Markdown section of one case and whether it ran green."""
    title = name.removeprefix("case_")
    print(f"bench: running {title}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"bench.{name}")
        # Apps log one line per request to stdout; keep those out of the report.
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            rows = module.run()
    except Exception:
        traceback.print_exc()
        return f"## {title}\n\nFAILED: see the traceback on stderr.\n", False
    about = (module.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    took = time.perf_counter() - started
    return f"## {title}\n\n{about} ({took:.0f} s)\n\n{markdown(rows)}\n", True


def main(argv: list[str] | None = None) -> int:
    """Run the chosen cases; exit status 1 when any case failed."""
    args = _arguments(sys.argv[1:] if argv is None else argv)
    if args.quick:
        os.environ["BENCH_QUICK"] = "1"
    chosen = [c for c in CASES if not args.cases or c.removeprefix("case_") in args.cases]
    _env.prepare()
    head = f"# daloy_edge benchmarks\n\n{_env.machine_summary()}\n\n{HOW_TO_READ}\n"
    sections, green = [head], True
    for name in chosen:
        text, ok = _section(name)
        sections.append(text)
        green = green and ok
    report = "\n".join(sections)
    print(report)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / time.strftime("%Y-%m-%d-%H%M%S.md")
        out.write_text(report, encoding="utf-8")
        print(f"bench: saved {out}", file=sys.stderr)
    return 0 if green else 1


if __name__ == "__main__":
    raise SystemExit(main())
