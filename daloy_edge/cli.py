"""The ``daloy-edge`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from daloy_edge import __version__
from daloy_edge.commands import check, dev, new, token, verify

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="daloy-edge", description="Secure-by-default serverless HTTP toolkit."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    check.add_parser(sub)
    dev.add_parser(sub)
    new.add_parser(sub)
    token.add_parser(sub)
    verify.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    _escape_what_stdout_cannot_encode()
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    return int(run(args))


def _escape_what_stdout_cannot_encode() -> None:
    # Reports quote what they found: a file name that is not UTF-8, an identifier or a
    # configured origin in another script. Printed to a stream that cannot encode it (a
    # cp1252 pipe on Windows, PYTHONIOENCODING=ascii, a lone surrogate under a UTF-8
    # locale), the report was lost behind a UnicodeEncodeError. Escape such characters
    # instead, as Python does on stderr.
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    sys.exit(main())
