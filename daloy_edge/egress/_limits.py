"""The time and size bounds of a guarded fetch (a module of its own, so configuring them
loads none of the client)."""

from __future__ import annotations

from daloy_edge._errors import ConfigError
from daloy_edge._record import record

__all__ = ["CREDENTIAL_HEADERS", "FetchLimits"]

CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie", "x-api-key")


@record(frozen=True, kw_only=True)
class FetchLimits:
    """Time and size bounds of one guarded fetch, redirects included.

    ``connect_timeout`` covers name resolution, TCP and TLS of each connection;
    ``read_timeout`` each read; ``total_timeout`` the whole exchange. ``credential_headers``
    are dropped, for good, as soon as a redirect leaves the original origin.
    """

    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    total_timeout: float = 15.0
    max_bytes: int = 1024 * 1024
    max_redirects: int = 5
    credential_headers: tuple[str, ...] = CREDENTIAL_HEADERS

    def __post_init__(self) -> None:
        timeouts = (self.connect_timeout, self.read_timeout, self.total_timeout)
        if not all(t > 0 for t in timeouts):
            raise ConfigError("timeouts must be positive")
        if not self.max_bytes > 0:  # NaN too: no response would exceed it
            raise ConfigError("max_bytes must be positive")
        if not 0 <= self.max_redirects <= 20:
            raise ConfigError("max_redirects must be between 0 and 20")
