"""Strict parsing of outbound URLs: one reading, or a refusal.

Browsers, ``urllib``, ``httpx`` and ``getaddrinfo`` disagree on many URL shapes; an SSRF
filter that reads a URL one way while the client connects the other way is bypassed. So
anything that can be read two ways is refused: userinfo, backslashes, control characters,
whitespace, non-ASCII (IDN hosts must be given in their ``xn--`` form, which must decode to
a non-ASCII label), percent-encoded or empty hosts, trailing dots, and every numeric host
that is not a canonical dotted quad (decimal ``2852039166``, hex ``0xa9fea9fe``, octal
``0251.0376.0251.0376``, short ``127.1``).
The request is then sent to the URL rebuilt from the parsed parts, never the original text.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import urljoin

from daloy_edge._record import record
from daloy_edge.egress._addresses import IPAddress, parse_address
from daloy_edge.egress._errors import EgressDenied

__all__ = ["DEFAULT_PORTS", "Target", "check_host_name", "join_location", "parse_url"]

DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_LABEL = re.compile(r"[a-z0-9_\-]{1,63}")
_HEX_LABEL = re.compile(r"0x[0-9a-f]*")
_CANONICAL_OCTET = re.compile(r"0|[1-9][0-9]{0,2}")
_IPV6_CHARS = re.compile(r"[0-9a-fA-F:.]+")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_SLASHES_BEFORE_HOST = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*:)?///")
_MAX_HOST = 253


@record(frozen=True)
class Target:
    """A parsed outbound URL: what the request is sent to, rebuilt from its parts."""

    scheme: str
    host: str
    port: int
    path: str
    address: IPAddress | None = None
    explicit_port: bool = False

    @property
    def authority(self) -> str:
        """``host[:port]`` as it goes into the URL and the ``Host`` header."""
        host = f"[{self.host}]" if isinstance(self.address, IPv6Address) else self.host
        return f"{host}:{self.port}" if self.explicit_port else host

    @property
    def url(self) -> str:
        """The canonical URL (no userinfo, no fragment)."""
        return f"{self.scheme}://{self.authority}{self.path}"

    @property
    def origin(self) -> tuple[str, str, int]:
        """``(scheme, host, port)``: credentials never cross from one origin to another."""
        return (self.scheme, self.host, self.port)


def _check_characters(text: str) -> None:
    if not text.isascii():
        raise EgressDenied("non-ASCII character in URL")
    if any(c <= " " or c == "\x7f" for c in text):
        raise EgressDenied("control character or whitespace in URL")
    if "\\" in text:
        raise EgressDenied("backslash in URL")


def parse_url(url: str, *, schemes: frozenset[str], max_length: int = 4096) -> Target:
    """Parse ``url`` strictly; raises :class:`EgressDenied` for anything ambiguous.

    >>> parse_url("https://Example.com/a?b=1", schemes=frozenset({"https"})).url
    'https://example.com/a?b=1'
    """
    if len(url) > max_length:
        raise EgressDenied("URL too long")
    _check_characters(url)
    scheme, sep, rest = url.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        raise EgressDenied("not an absolute URL with an authority")
    scheme = scheme.lower()
    if scheme not in schemes:
        raise EgressDenied(f"scheme {scheme!r} not allowed")
    rest, _, fragment = rest.partition("#")
    if "@" in fragment:
        raise EgressDenied("'@' in fragment")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:]
    if "@" in authority:
        raise EgressDenied("userinfo in URL")
    host, port, explicit = _split_authority(authority, DEFAULT_PORTS[scheme])
    address = _literal_address(host)
    host = check_host_name(host) if address is None else str(address)
    if not path.startswith("/"):
        path = "/" + path
    return Target(scheme, host, port, path, address, explicit)


def _split_authority(authority: str, default_port: int) -> tuple[str, int, bool]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise EgressDenied("unterminated IPv6 literal")
        host, after = authority[: end + 1], authority[end + 1 :]
        if after and not after.startswith(":"):
            raise EgressDenied("junk after IPv6 literal")
        port_text = after[1:] if after else None
    else:
        host, colon, port_text_raw = authority.partition(":")
        port_text = port_text_raw if colon else None
    if not host:
        raise EgressDenied("empty host")
    if "%" in host:
        raise EgressDenied("percent-encoded host or IPv6 zone")
    if port_text is None:
        return host, default_port, False
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        raise EgressDenied("invalid port")
    return host, int(port_text), True


def _literal_address(host: str) -> IPAddress | None:
    if host.startswith("["):
        inner = host[1:-1]
        address = parse_address(inner) if _IPV6_CHARS.fullmatch(inner) else None
        if not isinstance(address, IPv6Address):
            raise EgressDenied("invalid IPv6 literal")
        return address
    lowered = host.lower()
    last = lowered.rsplit(".", 1)[-1]
    if not (last.isdigit() or _HEX_LABEL.fullmatch(last)):
        return None
    octets = lowered.split(".")
    if len(octets) != 4 or not all(_CANONICAL_OCTET.fullmatch(o) for o in octets):
        raise EgressDenied("non-canonical IPv4 address")
    if any(int(o) > 255 for o in octets):
        raise EgressDenied("IPv4 octet out of range")
    return IPv4Address(lowered)


def check_host_name(host: str) -> str:
    """``host`` lower-cased if it is a well-formed DNS name; raises :class:`EgressDenied`."""
    name = host.lower()
    if len(name) > _MAX_HOST:
        raise EgressDenied("host name too long")
    labels = name.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise EgressDenied("invalid host name (empty label, trailing dot or bad character)")
    if "xn--" in name:
        _check_punycode(labels)
    return name


def _check_punycode(labels: list[str]) -> None:
    # An ``xn--`` label no client can address (httpx's IDNA check, the URL parser of
    # Workers' fetch) would fail there as a transport error on one runtime and a denial on
    # another; refuse it here, on every runtime alike.
    for label in labels:
        if not label.startswith("xn--"):
            continue
        try:
            decoded = label[4:].encode("ascii").decode("punycode")
        except UnicodeError:
            raise EgressDenied("invalid IDNA (punycode) label") from None
        if decoded.isascii() or not decoded.isprintable() or not _is_mapped_form(decoded):
            raise EgressDenied("invalid IDNA (punycode) label")


# Printable code points that UTS #46 (the URL Standard's host parser) ignores or disallows
# and NFKC leaves alone: variation selectors, fillers, ideographic description characters,
# the ideographic full stop (a label separator) and the replacement characters.
_UNMAPPABLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u1806\u180b-\u180f\u2ff0-\u2fff\u3002"
    "\ufe00-\ufe0f\ufffc\ufffd\U000e0100-\U000e01ef]"
)
_KEPT_LETTERS = {0xDF: "ss", 0x3C2: "\u03c3"}


def _is_mapped_form(decoded: str) -> bool:
    """True when ``decoded`` is already in the form IDNA maps a name to: lower case, NFC, no
    compatibility characters (NFKC and case folding leave it unchanged, but for the two
    letters IDNA 2008 keeps, ``ß`` and ``ς``), no leading combining mark.

    URL parsers (UTS #46) refuse an ``xn--`` label in any other form, and so does httpx; a
    name like ``xn--mi7ccd`` (fullwidth "abc") would otherwise pass here and fail in
    the client.
    """
    import unicodedata

    if unicodedata.category(decoded[0]).startswith("M") or _UNMAPPABLE.search(decoded):
        return False
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", decoded).casefold())
    return folded == decoded.translate(_KEPT_LETTERS)


def join_location(base: str, location: str) -> str:
    """Resolve a redirect ``Location`` against ``base`` (the caller checks the result)."""
    _check_characters(location)
    if not location:
        raise EgressDenied("empty redirect location")
    if _SLASHES_BEFORE_HOST.match(location):
        # "///host/" and "http:///host/": the URL Standard (browsers, Workers' fetch) skips
        # the extra slashes and reads a host, urljoin an empty one and a path on this host.
        raise EgressDenied("three or more slashes before the redirect host")
    try:
        return urljoin(base, location)
    except ValueError:  # an unclosed IPv6 bracket, as in "http://[::1"
        raise EgressDenied("malformed redirect location") from None
