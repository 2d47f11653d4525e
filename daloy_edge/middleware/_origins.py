"""Origins: parsing, the request's own origin, and whether a request is cross-site."""

from __future__ import annotations

from daloy_edge._request import Request

__all__ = ["is_cross_origin", "normalize_origin", "own_origin"]

# ``^(https?)://([a-z0-9.\-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$`` on the stripped,
# lower-cased text, as a small parser: building the app checks configured origins
# (``re`` is not loaded at a cold start), and CSRF and CORS parse request origins, no
# slower than the regex did. ``text.lstrip(chars)`` drops the leading run of ``chars``
# (``rstrip`` the trailing one).
_DEFAULT_PORTS = {"https": ":443", "http": ":80"}
_HOST_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.-"
_IP_LITERAL_CHARS = "0123456789abcdef:."


def valid_port(digits: str) -> bool:
    """A port as a browser serialises it: 1 to 65535, ASCII digits, no leading zero."""
    return (
        0 < len(digits) <= 5
        and digits.isascii()
        and digits.isdigit()
        and digits[0] != "0"
        and int(digits) <= 65535
    )


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` lower-cased, default port dropped; None when malformed.

    >>> normalize_origin("HTTPS://Example.com:443")
    'https://example.com'
    """
    # ASCII only: lower() maps the Kelvin sign (U+212A) to "k", so "https://\u212aiosk.example"
    # would read as "https://kiosk.example"; browsers send host names in ASCII (punycode).
    if not value.isascii():
        return None
    text = value.strip().lower()
    scheme, _, rest = text.partition("://")
    default_port = _DEFAULT_PORTS.get(scheme)
    if default_port is None:
        return None
    port = rest.lstrip(_HOST_CHARS)
    if len(port) == len(rest):  # no host name: an IP literal, or malformed
        # ``[`` then one or more literal characters, then ``]``.
        head, closed, port = rest.partition("]")
        if not closed or len(head) < 2 or head.rstrip(_IP_LITERAL_CHARS) != "[":
            return None
    # ``text`` is now ``scheme://host`` followed by ``port``: nothing or ``:digits``.
    if not port:
        return text
    if port == default_port:
        return text[: -len(port)]
    # A browser never sends ":0443", ":0" or ":99999", so none of them names an origin.
    if port[0] != ":" or not valid_port(port[1:]):
        return None
    return text


def own_origin(request: Request) -> str | None:
    """The origin the client addressed (scheme and ``Host``)."""
    return normalize_origin(f"{request.scheme}://{request.host}")


def is_cross_origin(request: Request) -> bool:
    """True when a browser says this request comes from another origin.

    ``Sec-Fetch-Site`` (set by the browser, not scriptable) decides when present;
    otherwise a present ``Origin`` that differs from our own. Requests without either
    header come from non-browser clients or very old browsers. A field sent on several
    lines is read as its lines joined, as runtimes that join them deliver it: cross-origin.
    """
    headers = request.headers
    site = headers.get_joined("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = headers.get_joined("origin")
    if origin is None:
        return False
    normalized = normalize_origin(origin)
    return normalized is None or normalized != own_origin(request)
