"""The egress policy: which URLs, names and addresses an outbound request may reach.

Pure: strings and :mod:`ipaddress` objects in, a :class:`Target` or an
:class:`EgressDenied` out. The resolving client calls :meth:`EgressPolicy.check_url` for
every hop and :meth:`EgressPolicy.check_address` for every address a name resolves to.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network

from daloy_edge._errors import ConfigError
from daloy_edge._record import field, record
from daloy_edge.egress._addresses import (
    METADATA_ADDRESSES,
    IPAddress,
    classify,
    embedded_ipv4,
    parse_address,
    unmap,
)
from daloy_edge.egress._errors import EgressDenied
from daloy_edge.egress._url import Target, check_host_name, parse_url

__all__ = ["METADATA_HOSTS", "SPECIAL_USE_DOMAINS", "EgressPolicy"]

_SCHEMES = frozenset({"http", "https"})

SPECIAL_USE_DOMAINS: frozenset[str] = frozenset(
    {
        "localhost",
        "local",
        "localdomain",
        "internal",
        "intranet",
        "private",
        "corp",
        "home",
        "lan",
        "svc",
        "home.arpa",
        "invalid",
        "onion",
        "alt",
    }
)
"""Names that never denote a public host (RFC 6761, 6762, 8375, 9476, ICANN ``.internal``,
and the usual private suffixes); denied with their subdomains unless allow-listed."""

METADATA_HOSTS: frozenset[str] = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    }
)
"""Cloud metadata host names: denied unless listed exactly in ``allow_hosts``."""

Network = IPv4Network | IPv6Network


def _normalise_host(entry: str) -> str:
    host = entry.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    address = parse_address(host)
    return str(address) if address is not None else host


@record(frozen=True, kw_only=True)
class EgressPolicy:
    """Where outbound requests may go.

    - ``schemes``: a subset of ``http`` and ``https``.
    - ``ports``: allowed ports (the scheme default counts); ``None`` allows every port.
    - ``allow_hosts``: empty allows any public host; otherwise exact names (``api.example.com``),
      IP literals, or ``*.example.com`` for every subdomain (not the apex).
    - ``allow_cidrs``: explicit opt-in for ranges that are otherwise denied, such as a private
      service network. A cloud metadata address stays denied unless it is listed on its own
      (``169.254.169.254/32``), even when a broader range such as ``169.254.0.0/16`` is.

    Security: every address a name resolves to must pass; one forbidden answer denies the
    name. Denied by default: loopback, RFC 1918, link-local, CGNAT, benchmarking,
    documentation, multicast, broadcast, reserved, ``0.0.0.0/8``, IPv6 loopback and
    unspecified, ULA, link-local and site-local, and IPv4 embedded in IPv6 (mapped,
    compatible, NAT64, 6to4, Teredo) checked against the IPv4 rules.

    >>> policy = EgressPolicy(allow_hosts=("api.example.com",))
    >>> policy.check_url("https://api.example.com/v1").host
    'api.example.com'
    """

    schemes: tuple[str, ...] = ("https", "http")
    ports: tuple[int, ...] | None = (80, 443)
    allow_hosts: tuple[str, ...] = ()
    allow_cidrs: tuple[str, ...] = ()
    max_url_length: int = 4096
    _schemes: frozenset[str] = field(init=False, repr=False)
    _exact: frozenset[str] = field(init=False, repr=False)
    _suffixes: frozenset[str] = field(init=False, repr=False)
    _ranges: tuple[tuple[int, int, int], ...] = field(init=False, repr=False)
    _named: frozenset[IPAddress] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("schemes", "allow_hosts", "allow_cidrs"):
            if isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be a sequence of strings, not one string")
        schemes = frozenset(s.lower() for s in self.schemes)
        if not schemes or not schemes <= _SCHEMES:
            raise ConfigError("schemes must be a non-empty subset of 'http' and 'https'")
        if self.ports is not None and not all(0 < p < 65536 for p in self.ports):
            raise ConfigError("ports must be between 1 and 65535")
        if not self.max_url_length >= 16:  # NaN too: no URL would be too long
            raise ConfigError("max_url_length is too small")
        exact, suffixes = _host_patterns(self.allow_hosts)
        networks = tuple(_network(c) for c in self.allow_cidrs)
        named = frozenset(n.network_address for n in networks if n.num_addresses == 1)
        object.__setattr__(self, "_schemes", schemes)
        object.__setattr__(self, "_exact", exact)
        object.__setattr__(self, "_suffixes", suffixes)
        ranges = tuple(
            (n.version, int(n.network_address), int(n.broadcast_address)) for n in networks
        )
        object.__setattr__(self, "_ranges", ranges)
        object.__setattr__(self, "_named", named)

    def check_url(self, url: str) -> Target:
        """Parse ``url`` and check scheme, port and host; literal addresses are vetted too.

        Host names are checked here only as names; the resolving client vets the addresses
        they resolve to with :meth:`check_address` before connecting.
        """
        target = parse_url(url, schemes=self._schemes, max_length=self.max_url_length)
        if self.ports is not None and target.port not in self.ports:
            raise EgressDenied(f"port {target.port} not allowed")
        if target.address is not None:
            self._check_literal_host(target.host)
            self.check_address(target.address)
        else:
            self._check_name(target.host)
        return target

    def check_address(self, address: IPAddress | str) -> IPAddress:
        """Vet one address a request would connect to; returns the address to connect to.

        IPv4-mapped IPv6 comes back as the IPv4 address it names (the same destination).
        """
        parsed = parse_address(address) if isinstance(address, str) else address
        if parsed is None:
            raise EgressDenied("not an IP address (or a scoped one)")
        ip = unmap(parsed)
        carried = embedded_ipv4(ip)
        for candidate in (ip, *(inner for _, inner in carried)):
            if candidate in METADATA_ADDRESSES and candidate not in self._named:
                raise EgressDenied(f"cloud metadata address {candidate}")
        if self._opted_in(ip):
            return ip
        kind = classify(ip)
        if kind is not None:
            raise EgressDenied(f"{kind} address {ip}")
        for form, inner in carried:
            inner_kind = None if self._opted_in(inner) else classify(inner)
            if inner_kind is not None:
                raise EgressDenied(f"{inner_kind} address {inner} inside {form} address {ip}")
        return ip

    def _opted_in(self, ip: IPAddress) -> bool:
        value, version = int(ip), ip.version
        return any(v == version and lo <= value <= hi for v, lo, hi in self._ranges)

    def _listed(self, host: str) -> bool:
        if host in self._exact:
            return True
        suffixes = self._suffixes
        if not suffixes:
            return False
        # A "*.example.com" entry is kept as ".example.com": each part of the host from
        # one of its dots is looked up, one lookup per label rather than a comparison
        # per entry (a list of a thousand wildcards made each denied URL cost a thousand).
        at = host.find(".")
        while at != -1:
            if host[at:] in suffixes:
                return True
            at = host.find(".", at + 1)
        return False

    def _check_literal_host(self, host: str) -> None:
        if (self._exact or self._suffixes) and host not in self._exact:
            raise EgressDenied("address literal not in the host allow-list")

    def _check_name(self, host: str) -> None:
        if host in METADATA_HOSTS and host not in self._exact:
            raise EgressDenied("cloud metadata host name")
        if (self._exact or self._suffixes) and not self._listed(host):
            raise EgressDenied("host not in the allow-list")
        if self._listed(host):
            return
        if "." not in host:
            raise EgressDenied("single-label host name")
        if any(host == d or host.endswith("." + d) for d in SPECIAL_USE_DOMAINS):
            raise EgressDenied("special-use domain name")


def _host_patterns(entries: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    exact: set[str] = set()
    suffixes: set[str] = set()
    for entry in entries:
        if not entry.isascii():
            # lower() maps the Kelvin sign (U+212A) to "k": "\u212aiosk.example" allowed
            # kiosk.example, where every URL past ASCII is refused.
            raise ConfigError(f"invalid allow_hosts entry {entry!r} (an IDN in its xn-- form)")
        host = _normalise_host(entry)
        wildcard = host.startswith("*.")
        name = host[2:] if wildcard else host
        if parse_address(name) is None or wildcard:
            try:
                name = check_host_name(name)
            except EgressDenied:
                raise ConfigError(f"invalid allow_hosts entry {entry!r}") from None
        if wildcard:
            suffixes.add("." + name)
        else:
            exact.add(name)
    return frozenset(exact), frozenset(suffixes)


def _network(text: str) -> Network:
    try:
        return ip_network(text.strip(), strict=True)
    except ValueError:
        raise ConfigError(f"invalid CIDR in allow_cidrs: {text!r}") from None
