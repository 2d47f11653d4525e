"""Address classes: every IANA special-purpose block, and IPv4 hidden inside IPv6.

Pure functions over :mod:`ipaddress` objects. The tables are spelled out rather than taken
from ``ipaddress.is_global`` because that property has changed between Python releases.
Sources: the IANA IPv4 and IPv6 Special-Purpose Address Registries, RFC 6890, RFC 6052,
RFC 3056 (6to4), RFC 4380 (Teredo), RFC 8215, RFC 9637.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import TypeAlias

__all__ = [
    "METADATA_ADDRESSES",
    "IPAddress",
    "classify",
    "embedded_ipv4",
    "parse_address",
    "unmap",
]

IPAddress: TypeAlias = IPv4Address | IPv6Address


def _ranges(
    blocks: tuple[tuple[str, str], ...], network: type[IPv4Network] | type[IPv6Network]
) -> tuple[tuple[int, int, str], ...]:
    # Integer bounds: a comparison per block instead of building network objects per check.
    nets = [(network(net), name) for net, name in blocks]
    return tuple((int(n.network_address), int(n.broadcast_address), name) for n, name in nets)


def _bounds(net: str) -> tuple[int, int]:
    parsed = IPv6Network(net)
    return int(parsed.network_address), int(parsed.broadcast_address)


_V4_BLOCKS = _ranges(
    (
        ("0.0.0.0/8", "this-network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared-address-space"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "ietf-protocol-assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.31.196.0/24", "as112"),
        ("192.52.193.0/24", "amt"),
        ("192.88.99.0/24", "6to4-relay-anycast"),
        ("192.168.0.0/16", "private"),
        ("192.175.48.0/24", "as112"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    ),
    IPv4Network,
)

_V6_BLOCKS = _ranges(
    (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "ipv4-mapped"),
        ("::ffff:0:0:0/96", "ipv4-translated"),
        ("::/96", "ipv4-compatible"),
        ("64:ff9b:1::/48", "nat64-local-use"),
        ("100::/64", "discard-only"),
        ("100:0:0:1::/64", "dummy-prefix"),
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "ietf-protocol-assignments"),
        ("2620:4f:8000::/48", "as112"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "srv6-sids"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    ),
    IPv6Network,
)

_GLOBAL_UNICAST = _bounds("2000::/3")
_NAT64 = _bounds("64:ff9b::/96")
_TEREDO = _bounds("2001::/32")
_SIX_TO_FOUR = _bounds("2002::/16")
_COMPATIBLE = _bounds("::/96")
_TRANSLATED = _bounds("::ffff:0:0:0/96")
_LOCAL_NAT64 = _bounds("64:ff9b:1::/48")
_LOW32 = 0xFFFFFFFF


def _within(value: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= value <= bounds[1]


METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, DigitalOcean, OpenStack instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.170.23",  # AWS EKS Pod Identity agent
        "169.254.0.23",  # Tencent Cloud metadata
        "100.100.100.200",  # Alibaba Cloud metadata
        "192.0.0.192",  # Oracle Cloud metadata (OCI Classic)
        "168.63.129.16",  # Azure platform (WireServer), a public address
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity agent over IPv6
    )
)
"""Cloud metadata endpoints: denied even inside an opted-in range unless named exactly."""


def parse_address(text: str) -> IPAddress | None:
    """``text`` as an address, or None; scoped IPv6 (``fe80::1%eth0``) is never an address."""
    if "%" in text:
        return None
    try:
        return ip_address(text)
    except ValueError:
        return None


def unmap(address: IPAddress) -> IPAddress:
    """The IPv4 address behind an IPv4-mapped IPv6 address (the same destination), else itself."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def embedded_ipv4(address: IPAddress) -> tuple[tuple[str, IPv4Address], ...]:
    """IPv4 addresses carried inside ``address``, each with the name of the carrier form."""
    if isinstance(address, IPv4Address):
        return ()
    value = int(address)
    low = IPv4Address(value & _LOW32)
    if _within(value, _NAT64):
        return (("nat64", low),)
    if _within(value, _LOCAL_NAT64):
        return (("nat64-local-use", low),)
    if _within(value, _TRANSLATED):
        return (("ipv4-translated", low),)
    if _within(value, _COMPATIBLE) and value > 1:
        return (("ipv4-compatible", low),)
    if _within(value, _SIX_TO_FOUR):
        return (("6to4", IPv4Address((value >> 80) & _LOW32)),)
    if _within(value, _TEREDO):
        server = IPv4Address((value >> 64) & _LOW32)
        return (("teredo-server", server), ("teredo-client", IPv4Address(~value & _LOW32)))
    return ()


def classify(address: IPAddress) -> str | None:
    """The special-purpose class ``address`` belongs to, or None for ordinary public unicast.

    Carriers of embedded IPv4 (NAT64, 6to4, Teredo) are classed by what they carry, which
    the caller checks separately with :func:`embedded_ipv4`.
    """
    value = int(address)
    if isinstance(address, IPv4Address):
        return next((name for lo, hi, name in _V4_BLOCKS if lo <= value <= hi), None)
    if _within(value, _TEREDO) or _within(value, _NAT64):
        return None
    name = next((name for lo, hi, name in _V6_BLOCKS if lo <= value <= hi), None)
    if name is None and not _within(value, _GLOBAL_UNICAST):
        return "reserved"
    return name
