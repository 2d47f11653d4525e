"""Origins: parsing, the request's own origin, and whether a request is cross-site."""

from __future__ import annotations

import re

from daloy_edge._request import Request

__all__ = ["is_cross_origin", "normalize_origin", "own_origin"]

_ORIGIN = re.compile(r"^(https?)://([a-z0-9.\-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` lower-cased, default port dropped; None when malformed.

    >>> normalize_origin("HTTPS://Example.com:443")
    'https://example.com'
    """
    match = _ORIGIN.match(value.strip().lower())
    if match is None:
        return None
    scheme, host, port = match.groups()
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def own_origin(request: Request) -> str | None:
    """The origin the client addressed (scheme and ``Host``)."""
    return normalize_origin(f"{request.scheme}://{request.host}")


def is_cross_origin(request: Request) -> bool:
    """True when a browser says this request comes from another origin.

    ``Sec-Fetch-Site`` (set by the browser, not scriptable) decides when present;
    otherwise a present ``Origin`` that differs from our own. Requests without either
    header come from non-browser clients or very old browsers.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    normalized = normalize_origin(origin)
    return normalized is None or normalized != own_origin(request)
