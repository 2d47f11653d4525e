"""Client addresses: parsing, CIDR sets and resolution through trusted proxies (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Literal, TypeAlias

from daloy_edge._errors import ConfigError

__all__ = [
    "IPAddress",
    "NetworkSet",
    "forwarded_for",
    "is_loopback_host",
    "parse_ip",
    "resolve_client",
    "x_forwarded_for",
]

IPAddress: TypeAlias = IPv4Address | IPv6Address
ForwardingHeader: TypeAlias = Literal["x-forwarded-for", "forwarded"]


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback_host(host: str | None) -> bool:
    """True for a URL host on this machine (``localhost``, 127.0.0.0/8, ``::1``): plain
    HTTP to it never leaves the machine, so nothing on a network path can tamper with it."""
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    address = parse_ip(host.strip("[]"))
    return address is not None and address.is_loopback


def parse_ip(text: str | None) -> IPAddress | None:
    """An address from ``text`` (brackets, ``:port`` and ``%zone`` removed; IPv4-mapped
    IPv6 turned into IPv4), or ``None`` when it is not an address.

    >>> parse_ip("[::ffff:10.0.0.1]:443")
    IPv4Address('10.0.0.1')
    """
    if not text:
        return None
    value = text.strip()
    if value.startswith("["):
        value, bracket, _ = value[1:].partition("]")
        if not bracket:
            return None
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    value = value.partition("%")[0]
    try:
        address = ip_address(value)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class NetworkSet:
    """A set of IPv4/IPv6 networks (CIDRs or single addresses); ``address in networks``.

    >>> "10.1.2.3" in NetworkSet(["10.0.0.0/8"])
    True
    """

    __slots__ = ("_v4", "_v6")

    def __init__(self, cidrs: Iterable[str]) -> None:
        self._v4: list[IPv4Network] = []
        self._v6: list[IPv6Network] = []
        for cidr in cidrs:
            network = _network(cidr)
            if isinstance(network, IPv4Network):
                self._v4.append(network)
            else:
                self._v6.append(network)

    @property
    def networks(self) -> list[IPv4Network | IPv6Network]:
        """Every network in the set."""
        return [*self._v4, *self._v6]

    def __contains__(self, address: object) -> bool:
        if isinstance(address, str):
            address = parse_ip(address)
        if isinstance(address, IPv4Address):
            return any(address in network for network in self._v4)
        if isinstance(address, IPv6Address):
            return any(address in network for network in self._v6)
        return False

    def __bool__(self) -> bool:
        return bool(self._v4 or self._v6)


def _network(cidr: str) -> IPv4Network | IPv6Network:
    try:
        network = ip_network(cidr.strip(), strict=True)
    except ValueError:
        raise ConfigError(f"{cidr!r} is not a network (host bits must be zero)") from None
    if isinstance(network, IPv6Network):
        mapped = network.network_address.ipv4_mapped
        if mapped is not None and network.prefixlen >= 96:
            return IPv4Network(f"{mapped}/{network.prefixlen - 96}")
    return network


def x_forwarded_for(values: Sequence[str]) -> list[str]:
    """Hops named by ``X-Forwarded-For`` lines, left (client) to right (nearest proxy)."""
    return [part.strip() for value in values for part in value.split(",")]


def _split(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def forwarded_for(values: Sequence[str]) -> list[str]:
    """The ``for=`` hops of ``Forwarded`` (RFC 7239) lines; ``""`` for an element without one."""
    hops = []
    for value in values:
        for element in _split(value, ","):
            found = ""
            for pair in _split(element, ";"):
                name, _, raw = pair.strip().partition("=")
                if name.strip().lower() == "for":
                    found = raw.strip().strip('"').replace("\\", "")
            hops.append(found)
    return hops


def resolve_client(
    peer: str | None,
    hops: Sequence[str],
    trusted: NetworkSet,
    *,
    max_hops: int = 16,
) -> str | None:
    """The client address: the right-most hop that is not a trusted proxy.

    Forwarding ``hops`` are believed only while every address to their right (starting
    with the socket ``peer``) is trusted; with nothing trusted they are ignored. When
    every hop is trusted the left-most one is the client. ``None`` (unknown, so allow
    lists fail closed) when the peer is not an address, a hop a trusted proxy passed on
    is not an address, or the chain is longer than ``max_hops``.
    """
    current = parse_ip(peer)
    if current is None:
        return None
    if current not in trusted:
        return str(current)
    for index, hop in enumerate(reversed(hops)):
        if index >= max_hops:
            return None
        address = parse_ip(hop)
        if address is None:
            return None
        if address not in trusted:
            return str(address)
        current = address
    return str(current)
