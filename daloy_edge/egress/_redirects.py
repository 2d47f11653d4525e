"""Following redirects by hand: every hop is checked again, credentials stay at home."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "REDIRECT_STATUSES",
    "drop_body_headers",
    "next_method",
    "prepare_headers",
    "strip_credentials",
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_BODY_HEADERS = ("content-type", "content-length", "content-encoding", "transfer-encoding")


def prepare_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Lower-cased request headers plus the defaults; the Host header is not the caller's."""
    prepared = {name.lower(): value for name, value in (headers or {}).items()}
    if "host" in prepared:
        raise ValueError("the Host header comes from the URL; it cannot be set")
    # Identity encoding: the size bound then counts what is stored, and no decompression
    # bomb can expand past it.
    prepared.setdefault("accept-encoding", "identity")
    prepared.setdefault("user-agent", "daloy-edge-egress")
    return prepared


def next_method(status: int, method: str, body: bytes | None) -> tuple[str, bytes | None]:
    """The method and body of the next hop (303 always, and 301/302 after POST, become GET)."""
    if status == 303 and method != "HEAD":
        return "GET", None
    if status in (301, 302) and method == "POST":
        return "GET", None
    return method, body


def strip_credentials(headers: dict[str, str], names: frozenset[str]) -> dict[str, str]:
    """``headers`` without the credential-bearing ones (for a hop to another origin)."""
    return {k: v for k, v in headers.items() if k not in names}


def drop_body_headers(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` without those describing a body that is no longer sent."""
    return {k: v for k, v in headers.items() if k not in _BODY_HEADERS}
