"""``daloy-edge verify``: run the supply-chain and code-pattern gates over a project."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``verify`` command."""
    parser = sub.add_parser(
        "verify",
        help="run the supply-chain and code-pattern gates (exit 1 on any failure)",
        description="Run every gate over PATH and print one line per gate. Waive a finding "
        "with `# verify: allow <gate> -- <reason>` on its line.",
    )
    parser.add_argument("path", nargs="?", default=".", help="project folder (default: .)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this gate (repeat or comma-separate)",
    )
    parser.add_argument(
        "--skip", action="append", metavar="NAME", help="leave this gate out (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--list", action="store_true", help="list the gates and exit")
    parser.add_argument("--sbom-out", type=Path, metavar="FILE", help="write the CycloneDX SBOM")
    parser.add_argument("-v", "--verbose", action="store_true", help="print notes too")
    parser.set_defaults(run=run)


def _names(values: list[str] | None) -> list[str]:
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]


def run(args: argparse.Namespace) -> int:
    """Run the selected gates; 0 when none failed, 1 when one did, 2 on bad usage."""
    from daloy_edge._errors import ConfigError
    from daloy_edge.verify import GATES, Project, Status, render_json, render_text, run_gates

    if args.list:
        for gate in GATES:
            print(f"{gate.name:24} {gate.summary}")
        return 0
    known = {g.name for g in GATES}
    only, skip = _names(args.only), _names(args.skip)
    unknown = sorted(set(only + skip) - known)
    if unknown:
        print(f"unknown gate(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    root = Path(args.path)
    if not root.is_dir():
        print(f"not a folder: {root}", file=sys.stderr)
        return 2
    try:
        project = Project(root, sbom_out=args.sbom_out)
    except ConfigError as exc:
        print(f"bad [tool.daloy-edge.verify] configuration: {exc}", file=sys.stderr)
        return 2
    selected = [n for n in (only or [g.name for g in GATES]) if n not in skip]
    results = run_gates(project, selected)
    shown = str(project.root)
    print(
        render_json(results, shown)
        if args.json
        else render_text(results, shown, verbose=args.verbose)
    )
    return 1 if any(r.status is Status.FAIL for r in results) else 0
