"""Egress errors: primitive exceptions that know nothing of HTTP.

The package registers them with :func:`daloy_edge.register_problem`, so a handler that lets
one escape answers 403 ``egress-denied``, 502 ``egress-failed`` or 504 ``egress-timeout``.
They subclass :class:`~daloy_edge.transport.TransportError`, so code written against the
transport protocol (JWKS fetches, REST stores) treats a refused destination as a failed fetch.
"""

from __future__ import annotations

from daloy_edge.transport import TransportError

__all__ = ["EgressDenied", "EgressFailed", "EgressTimeout"]


class EgressDenied(TransportError):
    """The policy refused a URL, a redirect target or a resolved address.

    ``reason`` is meant for logs; clients only learn that the destination is not allowed,
    so the error cannot be used as an oracle for what internal names resolve to.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EgressFailed(TransportError):
    """The destination was allowed but the exchange failed (connection, size, redirect loop)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EgressTimeout(EgressFailed):
    """The connect, read or total time bound ran out."""
