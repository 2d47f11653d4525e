"""Copies of this process: a child forked after the app was built (a pre-forking server's
worker, a ``multiprocessing`` child) or one of the environments Lambda SnapStart restores
from a single snapshot.

A copy starts with the original's memory, and with its descriptors: its blocks of random
bytes, its event loops (whose epoll instance the kernel shares between the two, after a
fork) and the connections pooled on them. A request written on a pooled connection by both
processes gets whichever answer comes first, so one process would read the other's. A
SnapStart restore is the same process on a machine of its own: its threads and event
loops carry on, its pooled connections lead nowhere.

:func:`copied` runs in the copy, first thing: at every ``os.fork()`` through
``os.register_at_fork``, and after a SnapStart restore once the Lambda adapter has hooked
it there (a restore fires no at-fork hook). Holders of state that is reset in place
register with :func:`after_copy`; holders that check where they use it (per-loop
connection pools, the Lambda runner's loop after a fork) compare :data:`generation`.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["after_copy", "after_fork", "copied", "generation", "keep"]

generation = 0
"""How many copies stand between this process and the one that imported this module."""

_hooks: list[Callable[[], None]] = []
_kept: list[object] = []


def after_copy(hook: Callable[[], None]) -> Callable[[], None]:
    """Run ``hook`` in every copy of this process, before anything else runs there."""
    _hooks.append(hook)
    return hook


def copied() -> None:
    """This process is a copy: bump :data:`generation` and run the hooks."""
    global generation
    generation += 1
    for hook in _hooks:
        hook()


def keep(thing: object) -> None:
    """Hold on to an event loop, or a client pooling connections, inherited from the
    original, never to use or close it.

    Closing a loop would unregister its descriptors from the epoll instance the original
    still polls (the kernel shares it), and the collector would close it: a loop's
    ``__del__`` closes it. A client's pools, collected, take locks in their finalizers
    that a thread of the original may have held at a fork.
    """
    _kept.append(thing)


def after_fork(hook: Callable[[], None]) -> Callable[[], None]:
    """Run ``hook`` in a child forked from this process only, not after a SnapStart
    restore: for state a fork leaves behind (a lock another thread held, a thread that
    did not come along) where a restore's threads carry on. Nothing where there is no
    fork (Pyodide)."""
    if _at_fork is not None:
        _at_fork(after_in_child=hook)
    return hook


_at_fork = getattr(os, "register_at_fork", None)
after_fork(copied)
