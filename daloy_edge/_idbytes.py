"""Random bytes for request, trace and span ids, read from a block of ``os.urandom``.

Every request takes two draws (its request id, its trace and span ids). Each
``os.urandom`` call is a ``getrandom`` system call, and system calls are dear in the
micro-VMs serverless functions run in: one block of 4 KiB serves about a hundred requests.

Only identifiers come from here. They must be unpredictable, and they are: the block is
the kernel's output, each byte handed out once. Secrets (session ids, CSRF pads, CSP
nonces, keys) still take ``os.urandom`` directly, so a disclosed block would reveal
future ids and nothing else.
"""

from __future__ import annotations

import os
from _io import BytesIO  # io re-exports it; _io is always loaded

from daloy_edge._copies import after_copy

__all__ = ["BLOCK", "id_bytes"]

BLOCK = 4096
"""Bytes fetched from the kernel at a time."""

_block = BytesIO()


def id_bytes(n: int) -> bytes:
    """``n`` random bytes that no other call (in this process or a copy of it) gets.

    One C-level read per call: threads each advance the block's position under the
    interpreter's lock, so two never read the same bytes.
    """
    chunk = _block.read(n)
    if len(chunk) == n:
        return chunk
    return _refill(n)


def _refill(n: int) -> bytes:
    # What was left is dropped rather than stitched to the new block: simpler, and it
    # is at most n - 1 bytes.
    global _block
    block = _block = BytesIO(os.urandom(max(BLOCK, n)))
    return block.read(n)


@after_copy
def _forget() -> None:
    # A forked child, or an environment restored from a Lambda SnapStart snapshot, starts
    # with a copy of the original's block: without this both would hand out the same ids.
    global _block
    _block = BytesIO()
