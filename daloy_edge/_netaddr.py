"""Client addresses: parsing, CIDR sets and resolution through trusted proxies (pure).

Addresses and networks are parsed here with exactly the rules of :mod:`ipaddress`
(``tests/core/test_netaddr.py`` holds the two to the same answers) into
``(version, integer)`` pairs, so a membership test is a mask and a compare, and building
an allow-list or serving a request loads nothing. ``ipaddress`` is imported only to
write out an IPv6 address in its canonical form.
"""

from __future__ import annotations

from daloy_edge._errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Literal, TypeAlias

    Address: TypeAlias = tuple[int, int]
    """``(4, value)`` or ``(6, value)``; IPv4-mapped IPv6 is always ``(4, value)``."""
    ForwardingHeader: TypeAlias = Literal["x-forwarded-for", "forwarded"]

__all__ = [
    "NetworkSet",
    "canonical_ip",
    "format_ip",
    "forwarded_for",
    "forwarded_proto",
    "is_loopback_host",
    "parse_ip",
    "resolve_client",
    "split_unquoted",
    "x_forwarded_for",
    "x_forwarded_proto",
]

_V4_ONES = (1 << 32) - 1
_V6_ONES = (1 << 128) - 1
_HEX = frozenset("0123456789abcdefABCDEF")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


# Every acceptable octet spelling: 1-3 ASCII digits, no leading zero, at most 255.
_OCTETS = {str(number): number for number in range(256)}


def _v4(text: str) -> int | None:
    """``IPv4Address``'s rules: four decimal octets of 1-3 ASCII digits, at most 255, no
    leading zeros."""
    octets = text.split(".")
    if len(octets) != 4:
        return None
    table = _OCTETS
    a, b, c, d = octets
    if a in table and b in table and c in table and d in table:
        return table[a] << 24 | table[b] << 16 | table[c] << 8 | table[d]
    return None


def _v6(text: str) -> int | None:
    """``IPv6Address``'s rules: at most one ``::``, hextets of 1-4 hex digits, an optional
    dotted IPv4 tail and an optional non-empty ``%scope`` (dropped)."""
    if "/" in text:
        return None
    text, percent, scope = text.partition("%")
    if percent and (not scope or "%" in scope):
        return None
    parts = text.split(":")
    if len(parts) < 3:
        return None
    if "." in parts[-1]:
        tail = _v4(parts.pop())
        if tail is None:
            return None
        parts += (f"{tail >> 16:x}", f"{tail & 0xFFFF:x}")
    if len(parts) > 9:
        return None
    skip = None
    for index in range(1, len(parts) - 1):
        if not parts[index]:
            if skip is not None:
                return None
            skip = index
    if skip is None:
        if len(parts) != 8 or not parts[0] or not parts[-1]:
            return None
        hextets = parts
    else:
        high, low = skip, len(parts) - skip - 1
        if not parts[0]:
            high -= 1
            if high:
                return None
        if not parts[-1]:
            low -= 1
            if low:
                return None
        if high + low > 7:
            return None
        hextets = [*parts[:high], *["0"] * (8 - high - low), *parts[len(parts) - low :]]
    value = 0
    for hextet in hextets:
        if not hextet or len(hextet) > 4 or not _HEX.issuperset(hextet):
            return None
        value = value << 16 | int(hextet, 16)
    return value


def _prefix_from_mask(value: int, bits: int) -> int | None:
    """The prefix length of a netmask (ones, then zeros), or None."""
    zeros = (value & -value).bit_length() - 1 if value else bits
    prefix = bits - zeros
    return prefix if value >> zeros == (1 << prefix) - 1 else None


def _v4_prefix(text: str) -> int | None:
    """``IPv4Network``'s mask rules: a decimal prefix, a netmask or a hostmask."""
    if text.isascii() and text.isdigit():
        return int(text) if int(text) <= 32 else None
    mask = _v4(text)
    if mask is None:
        return None
    netmask = _prefix_from_mask(mask, 32)
    return netmask if netmask is not None else _prefix_from_mask(mask ^ _V4_ONES, 32)


def _network(cidr: str, strict: bool = True) -> tuple[int, int, int]:
    """``(version, network, prefix length)`` as ``ip_network(cidr.strip(), strict)`` reads
    it, an IPv4-mapped network of /96 or longer turned into IPv4."""
    text = cidr.strip()
    address, slash, mask = text.partition("/")
    parsed: tuple[int, int, int] | None = None
    if "/" not in mask:
        value = _v4(address)
        prefix = None if value is None else _v4_prefix(mask) if slash else 32
        if value is not None and prefix is not None:
            parsed = (4, value, prefix)
        else:
            value = _v6(address)
            valid = not slash or (mask.isascii() and mask.isdigit() and int(mask) <= 128)
            if value is not None and valid:
                parsed = (6, value, int(mask) if slash else 128)
    if parsed is None:
        raise ConfigError(f"{cidr!r} is not a network")
    version, value, prefix = parsed
    host = (_V4_ONES if version == 4 else _V6_ONES) >> prefix
    if value & host:
        if strict:
            raise ConfigError(f"{cidr!r} is not a network (host bits must be zero)")
        value &= ~host
    if version == 6 and value >> 32 == 0xFFFF and prefix >= 96:
        return 4, value & _V4_ONES, prefix - 96
    return version, value, prefix


# Recent answers of parse_ip and canonical_ip by text: a client's address recurs on every
# request, and several layers read it (proxy resolution, allow-lists, the request log).
# Only address-sized texts are kept, and a full table starts over, so texts an attacker
# varies cost the parse they always cost, never memory.
_PARSED: dict[str, Address | None] = {}
_CANONICAL: dict[str, str | None] = {}
_REMEMBERED_MAX = 1024
_REMEMBERED_TEXT = 64


def parse_ip(text: str | None) -> Address | None:
    """An address from ``text`` (brackets, ``:port`` and an IPv6 ``%zone`` removed;
    IPv4-mapped IPv6 turned into IPv4), or ``None`` when it is not an address.

    >>> parse_ip("[::ffff:10.0.0.1]:443")
    (4, 167772161)
    """
    if not text:
        return None
    try:
        return _PARSED[text]
    except KeyError:
        pass
    address = _parse_ip(text)
    if len(text) <= _REMEMBERED_TEXT:
        if len(_PARSED) >= _REMEMBERED_MAX:
            _PARSED.clear()
        _PARSED[text] = address
    return address


def _parse_ip(text: str) -> Address | None:
    value = text.strip()
    if value.startswith("["):
        value, bracket, _ = value[1:].partition("]")
        if not bracket:
            return None
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    # A ``%zone`` belongs to IPv6 alone (``_v6`` drops it): ``127.0.0.1%2eexample.com``
    # is a host name, not an address.
    number = _v4(value)
    if number is not None:
        return 4, number
    number = _v6(value)
    if number is None:
        return None
    if number >> 32 == 0xFFFF:
        return 4, number & _V4_ONES
    return 6, number


def format_ip(address: Address) -> str:
    """The canonical text of ``address`` (what ``str(ipaddress.ip_address(...))`` gives).

    >>> format_ip((4, 167772161))
    '10.0.0.1'
    """
    version, value = address
    if version == 4:
        return f"{value >> 24}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"
    # Compressing IPv6 text is ipaddress's job; only requests from IPv6 clients get here.
    from ipaddress import IPv6Address

    return str(IPv6Address(value))


def canonical_ip(text: str | None) -> str | None:
    """``text`` as :func:`parse_ip` reads it, in canonical form; ``None`` if not an address."""
    if not text:
        return None
    try:
        return _CANONICAL[text]
    except KeyError:
        pass
    address = parse_ip(text)
    canonical = None if address is None else format_ip(address)
    if len(text) <= _REMEMBERED_TEXT:
        if len(_CANONICAL) >= _REMEMBERED_MAX:
            _CANONICAL.clear()
        _CANONICAL[text] = canonical
    return canonical


def is_loopback_host(host: str | None) -> bool:
    """True for a URL host on this machine (``localhost``, 127.0.0.0/8, ``::1``): plain
    HTTP to it never leaves the machine, so nothing on a network path can tamper with it."""
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    if "%" in host:
        # A zone means nothing on a loopback address, and HTTP clients differ on how they
        # decode one in a URL.
        return False
    address = parse_ip(host.strip("[]"))
    if address is None:
        return False
    version, value = address
    return value >> 24 == 127 if version == 4 else value == 1


class NetworkSet:
    """A set of IPv4/IPv6 networks (CIDRs or single addresses); ``address in networks``.

    Every CIDR is checked when the set is built; host bits must be zero unless
    ``strict=False``, which clears them (``10.1.2.3/8`` is ``10.0.0.0/8``).

    >>> "10.1.2.3" in NetworkSet(["10.0.0.0/8"])
    True
    """

    __slots__ = ("_v4", "_v6", "prefixlens")

    def __init__(self, cidrs: Iterable[str], *, strict: bool = True) -> None:
        # The networks grouped by mask: a membership test is one mask and one set lookup
        # per prefix length in use (33 for IPv4 at most), not one per network, so a
        # client checked against 10,000 cloud ranges costs what a few dozen cost.
        v4: dict[int, set[int]] = {}
        v6: dict[int, set[int]] = {}
        prefixlens: list[int] = []
        for cidr in cidrs:
            version, network, prefix = _network(cidr, strict)
            ones = _V4_ONES if version == 4 else _V6_ONES
            groups = v4 if version == 4 else v6
            groups.setdefault(ones ^ (ones >> prefix), set()).add(network)
            prefixlens.append(prefix)
        self._v4 = tuple((mask, frozenset(nets)) for mask, nets in v4.items())
        self._v6 = tuple((mask, frozenset(nets)) for mask, nets in v6.items())
        self.prefixlens = tuple(prefixlens)
        """The prefix length of every network, in the order given."""

    def __contains__(self, address: object) -> bool:
        if isinstance(address, str):
            address = parse_ip(address)
        if not isinstance(address, tuple):
            return False
        version, value = address
        for mask, networks in self._v4 if version == 4 else self._v6:
            if value & mask in networks:
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self._v4 or self._v6)


_ALL_HOPS = 1 << 62  # more elements than any line can hold


def x_forwarded_for(values: Sequence[str]) -> list[str]:
    """Hops named by ``X-Forwarded-For`` lines, left (client) to right (nearest proxy)."""
    return [part.strip() for value in values for part in value.split(",")]


_SCHEMES = {"http": "http", "https": "https"}


def x_forwarded_proto(values: Sequence[str]) -> str | None:
    """The scheme of the right-most ``X-Forwarded-Proto`` entry, the one the nearest
    proxy set or appended (``http`` or ``https``; None for anything else)."""
    if not values:
        return None
    return _SCHEMES.get(values[-1].rpartition(",")[2].strip().lower())


def split_unquoted(text: str, separator: str) -> list[str] | None:
    """``text`` split at ``separator`` outside quoted strings; None when a quoted string
    is left open."""
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
    return None if quoted else parts


def _elements(line: str, limit: int) -> list[str | None]:
    """The comma-separated elements of one ``Forwarded`` line, left to right, cut from the
    right, where each proxy appends its own: a quote the client left open can then break
    only the client's left-most element (``None``), never swallow what a proxy appended
    after it, whether that came on the same line or on a line the runtime joined to it.
    At most the right-most ``limit`` of them: the line is read no further."""
    if '"' not in line:
        # A line has no more commas than characters: str.rsplit takes no count past
        # sys.maxsize (OverflowError, a 500 for max_hops=sys.maxsize; 2**31 on Pyodide).
        return list(line.rsplit(",", min(limit, len(line)))[-limit:])
    elements: list[str | None] = []
    quoted = False
    end = index = len(line)
    while index:
        index -= 1
        char = line[index]
        if char == '"':
            # Inside a quoted string, a quote after an odd run of backslashes is escaped.
            run = index
            while quoted and run and line[run - 1] == "\\":
                run -= 1
            if not (index - run) % 2:
                quoted = not quoted
        elif char == "," and not quoted:
            elements.append(line[index + 1 : end])
            end = index
            if len(elements) == limit:
                elements.reverse()
                return elements
    elements.append(None if quoted else line[:end])
    elements.reverse()
    return elements


def forwarded_for(values: Sequence[str], limit: int | None = None) -> list[str]:
    """The ``for=`` hops of ``Forwarded`` (RFC 7239) lines; ``""`` for an element without
    one, and for the left-most element of a line whose quoted string never closes.

    Only the right-most ``limit`` hops, the nearest: a client's header of 8,000 empty
    elements was read whole, element by element, for a resolution that looks at no more
    than ``max_hops`` of them (2 ms of CPU a request, a hundred times the parse it needs).
    """
    if limit is None:
        limit = _ALL_HOPS
    hops: list[str] = []
    for value in reversed(values):
        if len(hops) == limit:
            break
        for element in reversed(_elements(value, limit - len(hops))):
            found = ""
            # A cut element's quotes all close; an open one is no element to read.
            pairs = None if element is None else split_unquoted(element, ";")
            for pair in pairs or ():
                name, _, raw = pair.strip().partition("=")
                if name.strip().lower() == "for":
                    found = raw.strip().strip('"').replace("\\", "")
            hops.append(found)
    hops.reverse()
    return hops


def forwarded_proto(values: Sequence[str]) -> str | None:
    """The ``proto=`` of the right-most ``Forwarded`` (RFC 7239) element, the one the
    nearest proxy appended (``http`` or ``https``; None for anything else)."""
    if not values:
        return None
    element = _elements(values[-1], 1)[0]
    for pair in (None if element is None else split_unquoted(element, ";")) or ():
        name, _, raw = pair.strip().partition("=")
        if name.strip().lower() == "proto":
            return _SCHEMES.get(raw.strip().strip('"').lower())
    return None


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
        return format_ip(current)
    for index, hop in enumerate(reversed(hops)):
        if index >= max_hops:
            return None
        address = parse_ip(hop)
        if address is None:
            return None
        if address not in trusted:
            return format_ip(address)
        current = address
    return format_ip(current)
