"""Cookie parsing and ``Set-Cookie`` formatting (RFC 6265)."""

from __future__ import annotations

import time

from daloy_edge._charset import ALNUM, TCHAR, allowed, only, span

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

__all__ = ["format_set_cookie", "http_date", "parse_cookie_header", "parse_cookies"]

_NAME = allowed(TCHAR)
# RFC 6265 cookie-octet: visible ASCII but for DQUOTE, comma, semicolon and backslash.
_VALUE = allowed(
    "\x21"
    + span("\x23", "\x2b")
    + span("\x2d", "\x3a")
    + span("\x3c", "\x5b")
    + span("\x5d", "\x7e")
)
_DOMAIN = allowed(ALNUM + ".-")
# Written as RFC 6265bis spells them; read in any case, as browsers read the attribute
# (Starlette and Flask take "lax").
_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None"}
# As many as a browser holds for one site (Chrome and Firefox keep 180 per domain): a
# session cookie set after 64 others, and sent after them, was read as no cookie at all.
_MAX_COOKIES = 180


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(timestamp: float) -> str:
    """An IMF-fixdate (RFC 9110), e.g. ``Thu, 01 Jan 1970 00:00:00 GMT``."""
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header; the first occurrence of a name wins, invalid pairs are skipped.

    >>> parse_cookie_header('a=1; b="2"; a=3')
    {'a': '1', 'b': '2'}
    """
    return parse_cookies(header)[0]


_NONE_REPEATED: frozenset[str] = frozenset()


def parse_cookies(header: str) -> tuple[dict[str, str], frozenset[str]]:
    """:func:`parse_cookie_header`, and the names sent more than once (each time with a
    valid value or not): a cookie that must be one value is refused on them.

    >>> parse_cookies("a=1; b=2; a=3")
    ({'a': '1', 'b': '2'}, frozenset({'a'}))
    """
    cookies: dict[str, str] = {}
    # Both made only once a name repeats or a pair is skipped: most headers need neither.
    repeated: set[str] | None = None
    dropped: set[str] | None = None
    parts = header.split(";")
    read = 0
    for read, part in enumerate(parts[: _MAX_COOKIES * 2], 1):  # noqa: B007 (read below)
        # ASCII space and tab only: str.strip() also drops U+00A0, U+0085, U+2000 ...,
        # and "\u2000__Host-session" would then pass for a prefixed cookie a sibling
        # subdomain may set (browsers apply the prefix rules to the exact name).
        name, sep, value = part.strip(" \t").partition("=")
        if not sep or not only(name, _NAME):
            padded = name.strip()
            if not sep or padded == name or not only(padded, _NAME):
                continue
            # Werkzeug, Starlette and http.cookies read "s =1" (or "\vs=1") as the name
            # "s": a filter reading so takes that value where this takes another "s".
            # Not read here either, it counts as a sending of "s" with an invalid value.
            name, value = padded, "\\"
        if name in cookies or (dropped is not None and name in dropped):
            if repeated is None:
                repeated = set()
            repeated.add(name)
            if name in cookies:
                continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if value and not only(value, _VALUE):
            if dropped is None:
                dropped = set()
            dropped.add(name)
            continue
        cookies[name] = value
        if len(cookies) >= _MAX_COOKIES:
            break
    # Past the bounds a kept name still counts when sent again: a sibling subdomain can
    # set enough cookies, sent first, to push the victim's own copy of a name out of them.
    for part in parts[read:]:
        name = part.partition("=")[0].strip()
        if name in cookies:
            if repeated is None:
                repeated = set()
            repeated.add(name)
    return cookies, _NONE_REPEATED if repeated is None else frozenset(repeated)


def format_set_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    expires: float | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = True,
    http_only: bool = True,
    same_site: Literal["Strict", "Lax", "None"] | None = "Lax",
    partitioned: bool = False,
) -> str:
    """Build one ``Set-Cookie`` value; secure attributes are the defaults.

    Raises ``ValueError`` for names or values that could split the header, and for a
    ``__Secure-`` cookie without ``Secure`` or a ``__Host-`` cookie without ``Secure``,
    with a ``Domain`` or with a ``Path`` other than ``/``: browsers drop such a cookie
    without a word, so a session would never be set, or a logout never clear it.
    """
    if not only(name, _NAME):
        raise ValueError("invalid cookie name")
    if value and not only(value, _VALUE):
        raise ValueError("invalid cookie value")
    site = None
    if same_site is not None:
        site = _SAME_SITE.get(same_site.lower()) if isinstance(same_site, str) else None
        if site is None:
            raise ValueError("invalid cookie SameSite")
    if name[:2] == "__":
        _check_prefix(name, secure or site == "None", domain, path)
    parts = [f"{name}={value}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        parts.append("Expires=" + http_date(expires))
    if domain is not None:
        if not only(domain, _DOMAIN):
            raise ValueError("invalid cookie domain")
        parts.append(f"Domain={domain}")
    if path is not None:
        if path and not only(path, _VALUE):  # no ";": a cookie-octet is never one
            raise ValueError("invalid cookie path")
        parts.append(f"Path={path}")
    if secure or site == "None":
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    if site is not None:
        parts.append(f"SameSite={site}")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)


def _check_prefix(name: str, secure: bool, domain: str | None, path: str | None) -> None:
    # Browsers match the prefixes in any case (RFC 6265bis), so "__host-" is held to them.
    if name[:7].lower() == "__host-":
        if not secure or domain is not None or path != "/":
            raise ValueError(f"a {name[:7]} cookie needs Secure, Path=/ and no Domain")
    elif name[:9].lower() == "__secure-" and not secure:
        raise ValueError(f"a {name[:9]} cookie needs Secure")
