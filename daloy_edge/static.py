"""Serving files from one directory, never from outside it."""

from __future__ import annotations

import os

from daloy_edge._errors import ConfigError, NotFound
from daloy_edge._response import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from daloy_edge._request import Request
    from daloy_edge.types import Handler

__all__ = ["static_files"]

_MAX_STATIC_BYTES = 10 * 1024 * 1024
_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".pdf": "application/pdf",
    ".xml": "application/xml",
    ".wasm": "application/wasm",
    ".map": "application/json",
}
_CHARSET_TYPES = ("text/", "application/json", "application/xml", "image/svg+xml")


_python_types: dict[str, str] = {}


def _python_type(suffix: str) -> str | None:
    # Python's own table by the last suffix alone, never mimetypes.guess_type: that
    # reads the system's mime.types (Debian's maps .shtml to text/html and .ts to a Qt
    # type; Pyodide and slim images have none), so one file was served as two types on
    # two runtimes; and it names "page.html.gz" or ".svgz" by the type inside the
    # compression, which the browser then reads from compressed bytes.
    if not _python_types:
        import mimetypes

        _python_types.update(mimetypes.MimeTypes().types_map[True])
    return _python_types.get(suffix)


def media_type_for(name: str) -> str:
    """The media type for a file name; unknown kinds are served as opaque bytes.

    Named by the last suffix: a compressed file (``.gz``, ``.svgz``, ``.tgz``) is opaque
    bytes, not the type it holds. Suffixes outside the built-in list are looked up in
    Python's own table, never the system's, so every runtime names a file alike.
    """
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    media = _TYPES.get(suffix)
    if media is None:
        media = _python_type(suffix) or "application/octet-stream"
    if media.startswith(_CHARSET_TYPES):
        media += "; charset=utf-8"
    return media


def entity_tag(content: bytes) -> str:
    """A strong ``ETag`` for ``content``: a digest of the bytes, not of a modification
    time, so every instance and runtime serving the same file names it alike."""
    import hashlib

    return '"' + hashlib.blake2b(content, digest_size=16).hexdigest() + '"'


def _matches(if_none_match: str | None, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag``, by the weak comparison RFC 9110 asks
    for (a ``W/`` tag matches: compression weakens the tag it sends)."""
    if not if_none_match:
        return False
    for item in if_none_match.split(","):
        given = item.strip(" \t")
        if given == "*" or given.removeprefix("W/") == tag:
            return True
    return False


def static_files(root: str | Path, *, param: str = "path", max_age: int = 3600) -> Handler:
    """A handler serving ``root / request.path_params[param]``.

    Each file carries a strong ``ETag`` (a digest of its bytes); a request whose
    ``If-None-Match`` names it is answered 304 without the body. Files are
    ``Cache-Control: public, max-age=<max_age>``.

    Security: the resolved file must lie inside ``root`` after following symlinks;
    dot-files, directories and anything else answer 404 (never 403, so probing learns
    nothing). Register it on a ``{path:path}`` route. Behind authentication (a route
    or mount with ``JWTAuth`` or ``BasicAuth``), files are ``private``: ``public`` lets
    a shared cache reuse an answer to ``Authorization`` for anyone (RFC 9111).

    >>> from daloy_edge import App
    >>> app = App()
    >>> app.add_route("/static/{path:path}", static_files("examples/static"))
    """
    # os.path rather than pathlib: pathlib's imports are a noticeable part of a cold start.
    if type(max_age) is not int or max_age < 0:
        # Written into every answer as it is: "public, max-age=-5" or "max-age=nan" is a
        # directive caches read as they each see fit, some as no limit at all.
        raise ConfigError(f"static max_age must be a whole number of seconds, not {max_age!r}")
    base = os.path.realpath(root)
    if not os.path.isdir(base):
        raise ConfigError(f"static root {root!s} is not a directory")
    inside = base.rstrip(os.sep) + os.sep
    cache_control = f"public, max-age={max_age}"
    for_one = f"private, max-age={max_age}"

    async def serve(request: Request) -> Response:
        relative = request.path_params.get(param, "")
        parts = relative.split("/")
        if not relative or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise NotFound()
        try:
            # Strict: resolving stops at the first missing part. Otherwise each of 4,000
            # missing parts ("a/a/a/…") was looked up under a path as long as the parts
            # before it, time quadratic in the path (13 ms for an 8 KB one).
            candidate = os.path.realpath(os.path.join(base, relative), strict=True)
        except OSError:  # missing, a symlink loop, a name too long
            raise NotFound() from None
        if not candidate.startswith(inside) or not os.path.isfile(candidate):
            raise NotFound()
        try:
            if os.path.getsize(candidate) > _MAX_STATIC_BYTES:
                raise NotFound()
            with open(candidate, "rb") as file:
                body = file.read(_MAX_STATIC_BYTES + 1)
        except OSError:  # removed or replaced by a directory since the checks, unreadable
            raise NotFound() from None
        if len(body) > _MAX_STATIC_BYTES:
            raise NotFound()
        tag = entity_tag(body)
        # Served to a principal, the file is one that authentication guards: ``public``
        # let a shared cache hand it to every client that sent no credentials at all.
        shared = request.principal is None
        headers = {"cache-control": cache_control if shared else for_one, "etag": tag}
        if _matches(request.headers.get_joined("if-none-match"), tag):
            return Response(status=304, headers=headers)
        return Response(
            body, headers=headers, media_type=media_type_for(os.path.basename(candidate))
        )

    serve.daloy_path_param = param  # type: ignore[attr-defined]  # checked by the route it is given
    return serve
