"""DEVELOPMENT ONLY: the ``Host`` names ``daloy-edge dev`` answers (DNS rebinding).

A page at ``http://attacker.example:8000`` whose name the attacker's DNS re-points at
127.0.0.1 reaches the dev server as its own origin: the browser sends
``Host: attacker.example:8000`` and lets the page read every answer (development 500
pages with their traces, whatever the app serves to loopback clients without
credentials, such as an admin IP allow-list of 127.0.0.1). A browser always names the
host it resolved, so the dev server answers only names nobody else's DNS can point at
it: IP addresses, ``localhost`` and ``*.localhost`` (browsers resolve those to loopback
themselves), the name it listens on, and the names given with ``--allow-host``, as
Vite, webpack-dev-server and Django's ``ALLOWED_HOSTS`` do.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from daloy_edge._json import dumps

__all__ = ["HostAllowList", "allow_host_argument", "guard_hosts", "host_name", "is_ip"]

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_HINT = "restart `daloy-edge dev` with --allow-host {name} to serve it"


def allow_host_argument(text: str) -> str:
    """An ``--allow-host`` value: a host name (``dev.example``), or one with a leading
    dot for a domain and every name below it (``.ngrok.app``); lower-cased."""
    if not text.isascii():  # lower() maps the Kelvin sign to "k"; a Host is ASCII
        raise ValueError(f"{text!r} is not a host name in ASCII (an IDN in its xn-- form)")
    name = text.strip().lower().removesuffix(".")  # as host_name reads a Host
    label = name.removeprefix(".")
    if not label or not set(label) <= _NAME_CHARS or ".." in label or label.startswith("."):
        raise ValueError(f"{text!r} is not a host name (no scheme, port or wildcard)")
    return name


class HostAllowList:
    """Which ``Host`` header values the dev server answers."""

    __slots__ = ("_names", "_suffixes")

    def __init__(self, names: Iterable[str]) -> None:
        chosen = [name.lower() for name in names]
        self._names = frozenset(n for n in chosen if not n.startswith(".")) | {"localhost"}
        self._suffixes = (".localhost", *(n for n in chosen if n.startswith(".")))

    def allows(self, host: str) -> bool:
        """True for ``host`` (a ``Host`` value, port and all) the server may answer."""
        name = host_name(host)
        if name in self._names or is_ip(name):
            return True
        return any(name.endswith(s) or name == s[1:] for s in self._suffixes)


def host_name(host: str) -> str:
    """The name in a ``Host`` value, without its port, lower-cased (``[::1]`` as ``::1``)
    and without the trailing dot of a fully qualified name (``localhost.``)."""
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        return name if bracket and (not rest or _is_port(rest)) else host
    name, colon, port = host.rpartition(":")
    # The same name as without the dot, which browsers send as the URL spells it: the
    # allowed name written that way was refused, with a hint to allow "localhost.".
    return (name if colon and _is_port(":" + port) else host).removesuffix(".")


def _is_port(text: str) -> bool:
    digits = text[1:]
    return text[:1] == ":" and digits.isascii() and digits.isdigit() and len(digits) <= 5


def is_ip(name: str) -> bool:
    """True for an IPv4 or IPv6 address (without brackets)."""
    # An address names no host a DNS answer could re-point: a page served from it is
    # the server itself (the browser's URL parser has already written it out canonically).
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def refusal(host: str) -> bytes:
    """The problem document for a request whose ``Host`` is not allowed."""
    name = host_name(host)
    # Written as every other problem is, "<", ">" and "&" escaped: the Host is the
    # client's, and one of "<img src=x onerror=...>" went out in it as markup.
    return dumps(
        {
            "type": "urn:daloy-edge:problem:host-not-allowed",
            "title": "Misdirected Request",
            "status": 421,
            "detail": (
                f"daloy-edge dev does not answer the host name {name[:253]!r}: a page on a"
                " name that resolves to this machine (DNS rebinding) would read every"
                f" answer; {_HINT.format(name=name[:253] or 'NAME')}"
            ),
        }
    )


_HEADERS = [
    (b"content-type", b"application/problem+json"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]


def guard_hosts(app: Any, allowed: HostAllowList) -> Any:
    """Wrap an ASGI app so HTTP and WebSocket requests to a host name not in ``allowed``
    are refused (421) before the app sees them; a request without ``Host`` (no browser
    sends one) goes through."""

    async def with_host_check(scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind in ("http", "websocket"):
            for field, value in scope["headers"]:
                if field.lower() == b"host" and not allowed.allows(value.decode("latin-1")):
                    await _refuse(kind, value.decode("latin-1"), send)
                    return
        await app(scope, receive, send)

    return with_host_check


async def _refuse(kind: str, host: str, send: Any) -> None:
    if kind == "websocket":
        # Closing before accepting makes the server refuse the handshake (403).
        await send({"type": "websocket.close", "code": 1008})
        return
    body = refusal(host)
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 421, "headers": headers})
    await send({"type": "http.response.body", "body": body})
