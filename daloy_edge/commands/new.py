"""``daloy-edge new NAME --target …``: scaffold a project that passes its own tests."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``new`` command."""
    from daloy_edge.scaffold import TARGETS

    parser = sub.add_parser("new", help="scaffold a project for one runtime")
    parser.add_argument("name", help="project name")
    parser.add_argument(
        "--target", required=True, choices=sorted(TARGETS), help="the runtime to deploy to"
    )
    parser.add_argument("--dir", type=Path, default=None, help="destination (default: ./NAME)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the project and say what to do next."""
    from daloy_edge._errors import ConfigError
    from daloy_edge.scaffold import generate

    dest: Path = args.dir or Path(args.name)
    try:
        files = generate(args.name, args.target, dest)
    except ConfigError as exc:
        print(f"daloy-edge new: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"daloy-edge new: cannot write {dest}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for path in files:
        print(f"created {path}")
    print(f"\nnext: cd {dest} && uv lock && uv run pytest")
    # Writing uv.lock needs PyPI, which ``new`` does not reach; the CI installs from it.
    print("then commit uv.lock with the project: its CI installs from it and fails without it")
    return 0
