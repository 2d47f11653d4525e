"""The error family of the pure JOSE layer: nothing here knows about HTTP."""

from __future__ import annotations

__all__ = ["InvalidKey", "InvalidToken", "JoseError", "KeysUnavailable"]


class JoseError(Exception):
    """Root of every error raised by :mod:`daloy_edge.jose`."""


class InvalidToken(JoseError):
    """The token is refused. ``str(exc)`` is a reason for logs; clients get no detail.

    Security: reasons never include the token, a signature or key material.
    """


class InvalidKey(JoseError):
    """A JWK or JWKS cannot be used (malformed, unsupported, or too weak)."""


class KeysUnavailable(JoseError):
    """No verification keys could be obtained (the JWKS endpoint failed and nothing is cached)."""
