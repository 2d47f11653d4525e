"""Name resolution as a seam, so tests (and unusual deployments) can inject answers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from daloy_edge import _copies

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["Resolver", "SystemResolver"]

_LOOKUP_THREADS = 16  # shared by every guarded client in the process


@runtime_checkable
class Resolver(Protocol):
    """Turns a host name into the IP addresses (as text) a connection may use.

    The guarded transport calls it once per new connection and connects only to the
    addresses it returned, after vetting every one of them.
    """

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        """Every address ``host`` resolves to, in preference order."""
        ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``: hosts file, then DNS), on 16
    threads of its own.

    Not the event loop's default executor: the names are the caller's to choose, and one
    whose DNS server never answers holds its thread for the resolver's whole timeout
    (``getaddrinfo`` cannot be cancelled). In the default executor (six threads on two
    cores) a few such fetches held every thread that sync handlers, ``asyncio.to_thread``
    and other clients' lookups (a JWKS or Upstash host) wait for. Here they hold lookup
    threads only; while all are held, further lookups wait within the connect timeout.
    """

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        """Every distinct TCP address ``getaddrinfo`` returns for ``host``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_lookups(), _addresses, host, port)


def _addresses(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: dict[str, None] = {}
    for *_, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _lookups() -> ThreadPoolExecutor:
    """The lookup threads, made on first use; a copy of the process makes its own (the
    original's threads are not in it). Two threads making it at once is harmless: the
    executor not kept is collected, and its idle threads end with it."""
    global _pool
    pool = _pool
    if pool is None or pool[0] != _copies.generation:
        from concurrent.futures import ThreadPoolExecutor

        executor = ThreadPoolExecutor(_LOOKUP_THREADS, thread_name_prefix="daloy-egress-lookup")
        pool = _pool = (_copies.generation, executor)
    return pool[1]
