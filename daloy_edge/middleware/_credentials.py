"""Reading ``Authorization`` credentials for one scheme, shared by the auth middleware."""

from __future__ import annotations

from daloy_edge._request import Request

__all__ = ["MalformedCredentials", "credentials_for"]


class MalformedCredentials(Exception):
    """Credentials were sent for the scheme but cannot be used; ``str`` is the reason."""


def credentials_for(request: Request, scheme: str) -> str | None:
    """The credentials after ``<scheme> `` (scheme matched case-insensitively).

    ``None`` when no ``Authorization`` header was sent or every one names another scheme.
    :class:`MalformedCredentials` when the header is repeated and one of them names the
    scheme (also as the one comma-joined field HTTP APIs, GCF and Workers make of
    repeated fields), a tab or a comma follows the scheme where a space belongs, or the
    credentials are empty. Only the header is read: never the query string, a form
    field or a cookie.
    """
    values = request.headers.get_all("authorization")
    if not values:
        return None
    if len(values) > 1:
        # Read as the one field the joining runtimes make of them, so that every runtime
        # answers alike: refused when one names the scheme, no credentials otherwise.
        _refuse_misshapen(",".join(values), scheme, repeated=True)
        return None
    # Whitespace around a field value (SP and HTAB) is not part of it (RFC 9110): HTTP
    # servers strip it, event shapes and ASGI scopes may not.
    name, _, rest = values[0].strip(" \t").partition(" ")
    if name.lower() != scheme:
        _refuse_misshapen(values[0], scheme)
        return None
    credentials = rest.lstrip(" ")
    if not credentials:
        raise MalformedCredentials("empty credentials")
    return credentials


def _refuse_misshapen(value: str, scheme: str, *, repeated: bool = False) -> None:
    """Raise when ``value`` sends credentials for ``scheme`` in a shape that cannot be used.

    Only repeated headers and headers naming another scheme get here, so a request with
    usable credentials pays nothing for it.
    """
    for i, part in enumerate(value.lower().split(",")):
        if part.strip(" \t").partition(" ")[0].partition("\t")[0] == scheme:
            if i or repeated:
                # Repeated fields joined by the runtime: asked apart, they were refused.
                raise MalformedCredentials("more than one Authorization header")
            raise MalformedCredentials("no space after the scheme")
