"""Warnings on stderr that never fail their caller."""

from __future__ import annotations

import sys

__all__ = ["warn"]


def warn(message: str) -> None:
    """Print ``message`` on stderr, or nothing when it cannot be written.

    A stderr whose reader is gone raised ``BrokenPipeError`` into the caller (a request
    fetching the key ring, the shipper's sender thread); without one (``2>&-``), print()
    wrote to stdout instead, among the JSON log lines read from it.
    """
    stream = sys.stderr
    if stream is None:
        return
    try:
        print(f"daloy_edge_aws_lambda: {message}", file=stream)
    except (OSError, ValueError):
        return
