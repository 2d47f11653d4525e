"""What a request body's media type declares: one type or a joined list, its charset, its
content coding. Read only by the body parsers, so imported when a body is parsed."""

from __future__ import annotations

from daloy_edge._errors import UnsupportedMediaType
from daloy_edge._headers import Headers
from daloy_edge._lazy import LazyPattern

__all__ = ["UTF8", "lists_types", "other_charset", "refuse_unreadable"]

UTF8 = ("utf-8", "utf8")
"""The charset names a body may be declared in."""


def lists_types(content_type: str) -> bool:
    """True when ``content_type`` holds a comma outside a quoted string (or a quoted
    string left open): lines joined into one, as no single media type is written."""
    # Matched in C: split character by character in Python, 8 KiB of a type with a comma
    # took 1 ms of CPU for any client's POST to a JSON or form route.
    if '"' not in content_type:
        return "," in content_type
    return _ONE_TYPE.compiled.fullmatch(content_type) is None


# Anything but a comma, and quoted strings whole (a comma within one, a quote escaped).
_ONE_TYPE = LazyPattern(r'(?s)(?:[^",]++|"(?:[^"\\]++|\\.)*+")*+')


def other_charset(content_type: str) -> bool:
    """True when a ``charset`` parameter of ``content_type`` names anything but UTF-8."""
    lowered = content_type.lower()
    # Only parameters naming one are read: a type of 8,000 bare ";" was read parameter by
    # parameter, 2 ms of CPU for each request to a JSON or form route.
    mentions = lowered.count("charset")
    if not mentions:
        return False
    if mentions > 4:
        # Each is read below: hundreds (";charset=utf-8" or ";xcharset" 8 KiB long) cost
        # 2 ms of CPU a request. No sender names it so often; a repeated parameter is an
        # error (RFC 6838 4.3), so the type is refused as naming another.
        return True
    # The parameter around each mention, not every parameter: split whole, 8 KiB of bare
    # ";" and one ";charset=utf-8" were still walked one by one, 0.5 ms of CPU a request.
    at = lowered.find("charset")
    while at >= 0:
        start = lowered.rfind(";", 0, at) + 1
        end = lowered.find(";", at)
        if end < 0:
            end = len(lowered)
        if start:  # not the type itself ("application/charset-info+json")
            name, _, value = lowered[start:end].partition("=")
            name, value = name.strip(" \t"), value.strip(" \t").strip('"')
            # "charset*" (RFC 2231, as Python's email package reads a type) declares one.
            if (name == "charset" or name.startswith("charset*")) and value not in UTF8:
                return True
        at = lowered.find("charset", end)
    return False


def refuse_unreadable(headers: Headers) -> None:
    """415 for a body in a content coding or declared in a charset other than UTF-8:
    the parsers read the bytes as they came, as UTF-8, so such a body would mean one
    thing here and another to a proxy that decodes it (RFC 9110 15.5.16: say which
    codings are accepted)."""
    value = headers.get("content-type") or ""
    if ";" in value and other_charset(value):
        raise UnsupportedMediaType("only UTF-8 bodies are accepted")
    # A list field: "identity, identity" is what runtimes that join repeated fields
    # (Workers, HTTP APIs, gunicorn) make of two "identity" fields.
    for field in headers.get_all("content-encoding"):
        for coding in field.split(","):
            if coding.strip(" \t").lower() not in ("", "identity"):
                raise UnsupportedMediaType(
                    "content codings are not accepted",
                    headers={"accept-encoding": "identity"},
                )
