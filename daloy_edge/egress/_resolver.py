"""Name resolution as a seam, so tests (and unusual deployments) can inject answers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["Resolver", "SystemResolver"]


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
    """The operating system's resolver (``getaddrinfo``: hosts file, then DNS)."""

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        """Every distinct TCP address ``getaddrinfo`` returns for ``host``."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        seen: dict[str, None] = {}
        for *_, sockaddr in infos:
            seen.setdefault(str(sockaddr[0]), None)
        return list(seen)
