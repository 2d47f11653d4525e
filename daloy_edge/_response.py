"""The response every handler returns, with helpers for JSON, text, HTML and redirects."""

from __future__ import annotations

from daloy_edge._cookies import format_set_cookie
from daloy_edge._headers import Headers, check_field, check_response_fields
from daloy_edge._json import dumps
from daloy_edge._lazy import LazyPattern
from daloy_edge._paths import check_header_value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Iterator
    from typing import Literal

    from daloy_edge._headers import HeaderInput

__all__ = ["Response", "charset_of", "to_body"]

_SAFE_REDIRECT_SCHEMES = ("http://", "https://", "/")
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# ASCII that no URI holds (RFC 3986, 2: the "unwise" characters and space), sent escaped.
_NEVER_IN_URI = frozenset(' "<>^`{|}')
_new = object.__new__
# The toolkit's own media types (``text``, ``html``, problems): sendable as they are.
_MEDIA_TYPES = frozenset(
    {
        "text/plain; charset=utf-8",
        "text/html; charset=utf-8",
        "application/json",
        "application/problem+json",
    }
)


class Response:
    """Status, headers (several ``Set-Cookie`` allowed) and a bytes or streamed body.

    ``headers`` is a mapping, (name, value) pairs (a name may repeat) or :class:`Headers`.

    A ``str`` body is sent in the charset of the Content-Type given with it (UTF-8 when
    it names none, and a text or XML type then says ``charset=utf-8``; ``ValueError``
    for a charset that cannot hold the text), and as ``text/plain; charset=utf-8`` when
    none is given: a browser sniffs untyped content, and may run reflected text as HTML.
    A ``str`` chunk of a stream is sent as UTF-8.

    A Response answers one request: the app writes that request's fields on it (request
    id, timing, the middleware's headers) and may compress or drop its body (HEAD). A
    route or middleware returning one it gave for an earlier request (a module-level
    constant) is a 500, since it carries what that request left on it; build one per
    request instead. Within one request it may be passed on (a route answering with
    another app's ``handle``, middleware with what ``call_next`` gave it).

    ``headers`` given here, and each field added to :attr:`headers` later
    (``response.headers[name] = value``, ``add``, ``setdefault``), must be sendable as
    they are: a token name and a value without line breaks or other control characters,
    nothing past U+00FF (``ValueError`` otherwise, a 500 raised in the handler rather
    than a response each runtime fails its own way). Spaces and tabs around a value are
    no part of it, and are dropped.

    >>> Response.json({"ok": True}).headers["content-type"]
    'application/json'
    """

    __slots__ = ("_returned", "body", "headers", "status", "stream")

    def __init__(
        self,
        body: bytes | str = b"",
        status: int = 200,
        headers: HeaderInput | Headers = None,
        *,
        media_type: str | None = None,
        stream: AsyncIterable[bytes | str] | None = None,
    ) -> None:
        self._returned = False
        self.status = status if type(status) is int else _status(status)
        text = None
        if isinstance(body, str):
            text, body = body, body.encode("utf-8")
        elif type(body) is not bytes:
            body = to_body(body)
        self.body = body
        if stream is not None and not hasattr(stream, "__aiter__"):
            # A list or a plain generator: found out only once the answer had started on
            # ASGI, and by each buffering adapter its own way.
            raise TypeError(
                f"a Response stream is an async iterable of bytes, not {type(stream).__name__}"
            )
        self.stream = stream
        if isinstance(headers, Headers):
            # Built by hand, as a request's are: its fields were never checked.
            self.headers = headers
            if check_response_fields(headers._items):
                headers._index = None
        else:
            self.headers = Headers(headers)
            if headers:  # the fields a handler gives; the app's own are checked at build
                check_response_fields(self.headers._items)
        if text and media_type is None and "content-type" not in self.headers:
            # Text sent without a type is sniffed (RFC 9110, 8.3): without nosniff, a
            # browser ran "<script>" in Response(f"Hello {name}") as an HTML page's.
            media_type = "text/plain; charset=utf-8"
        if media_type is not None and "content-type" not in self.headers:
            if media_type not in _MEDIA_TYPES:
                media_type = check_field("content-type", media_type)
            self.headers.add_lowered("content-type", media_type)
        if text is not None and (headers or media_type not in _MEDIA_TYPES):
            declared = self.headers.get("content-type")
            if declared is not None:
                if ";" in declared:
                    self.body = _in_charset(text, declared, body)
                if _charset_matters(declared) and charset_of(declared) is None:
                    # Sent as UTF-8, so said (ASVS 5.0 4.1.1): text of no charset is
                    # decoded in one the browser picks (windows-1252 in Chromium, so
                    # "café" read "cafÃ©"), and a charset guessed from the content
                    # can read escaped text as quotes and tags.
                    self.headers.put_lowered("content-type", declared + "; charset=utf-8")

    @classmethod
    def json(
        cls, data: object, status: int = 200, headers: HeaderInput | Headers = None
    ) -> Response:
        """A JSON response (compact, UTF-8, HTML-significant characters escaped)."""
        if headers is not None:
            return cls(dumps(data), status, headers, media_type="application/json")
        # Most handlers answer this way: the fields set directly, no ``__init__``.
        response = cls.__new__(cls)
        response._returned = False
        response.body = dumps(data)
        response.status = status if type(status) is int else _status(status)
        response.stream = None
        fields = response.headers = _new(Headers)
        fields._items = [("content-type", "application/json")]
        fields._index = None
        return response

    @classmethod
    def text(cls, text: str, status: int = 200, headers: HeaderInput | Headers = None) -> Response:
        """A ``text/plain`` response."""
        return cls(text, status, headers, media_type="text/plain; charset=utf-8")

    @classmethod
    def html(cls, html: str, status: int = 200, headers: HeaderInput | Headers = None) -> Response:
        """A ``text/html`` response (the secure-headers middleware adds its CSP)."""
        return cls(html, status, headers, media_type="text/html; charset=utf-8")

    @classmethod
    def redirect(cls, location: str, status: int = 303) -> Response:
        """A redirect (301, 302, 303, 307 or 308); only absolute http(s) URLs and
        same-site paths (not ``//host``). Characters past ASCII are sent percent-encoded
        as UTF-8 (``/café`` as ``/caf%C3%A9``), and so are those no URI holds (a space as
        ``%20``; ``"<>^`{|}`` too)."""
        if status not in _REDIRECT_STATUSES:
            # No client follows the Location of a 200 or a 404, and a 300 or a 304 is no
            # redirect to one target: the user went nowhere, and nothing said why.
            raise ValueError(f"a redirect's status is 301, 302, 303, 307 or 308, not {status!r}")
        if not location.startswith(_SAFE_REDIRECT_SCHEMES) or location.startswith("//"):
            raise ValueError("redirect target must be http(s) or a local path")
        # Browsers drop tabs and newlines inside a URL, so "/\t/evil.example" would go to
        # //evil.example: no control character at all.
        if not check_header_value(location) or "\\" in location or not location.isprintable():
            raise ValueError("redirect target contains forbidden characters")
        if not location.isascii() or not _NEVER_IN_URI.isdisjoint(location):
            # Sent raw, "é" left ASGI and Flask as the Latin-1 byte E9 but Lambda's JSON
            # result as UTF-8 (browsers read the field as UTF-8: the lone E9 came back as
            # a path of invalid UTF-8), and "€" could not be sent at all. A space or "<"
            # made the field no URI-reference (RFC 9110, 10.2.2): each client repaired it
            # its own way (urllib escaped the space alone) or refused it (http.client).
            location = "".join(
                ch
                if ch.isascii() and ch not in _NEVER_IN_URI
                else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8"))
                for ch in location
            )
        return cls(b"", status, {"location": location})

    @classmethod
    def empty(cls, status: int = 204, headers: HeaderInput | Headers = None) -> Response:
        """A response without a body."""
        return cls(b"", status, headers)

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        max_age: int | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool = True,
        http_only: bool = True,
        same_site: Literal["Strict", "Lax", "None"] = "Lax",
    ) -> None:
        """Add a ``Set-Cookie``; secure, HttpOnly and SameSite=Lax unless told otherwise.
        ``ValueError`` for a name, value, path, domain or SameSite that could split the
        field or change its attributes.

        Security: the response becomes ``Cache-Control: no-store`` unless it has its own
        Cache-Control (set one after this call to choose otherwise)."""
        # Every part checked as it is formatted.
        self._add_cookie(
            format_set_cookie(
                name,
                value,
                max_age=max_age,
                path=path,
                domain=domain,
                secure=secure,
                http_only=http_only,
                same_site=same_site,
            )
        )

    def delete_cookie(
        self, name: str, *, path: str = "/", domain: str | None = None, secure: bool = True
    ) -> None:
        """Tell the client to drop a cookie (``no-store`` as :meth:`set_cookie`).

        Give the ``path`` and ``domain`` it was set with: a browser drops only the cookie
        of that name, path and domain, and a host-only deletion leaves one set with
        ``Domain``."""
        self._add_cookie(
            format_set_cookie(
                name, "", max_age=0, expires=0, path=path, domain=domain, secure=secure
            )
        )

    def _add_cookie(self, field: str) -> None:
        headers = self.headers
        headers.add_lowered("set-cookie", field)
        if "cache-control" not in headers:
            # The cookie is for this one client: a shared cache may store a Set-Cookie
            # answer (RFC 9111), and a CDN keying by URL then set one visitor's cookie,
            # a token or session among them, in everyone who asked for that URL.
            headers.add_lowered("cache-control", "no-store")

    async def read(self) -> bytes:
        """The whole body, draining a stream if there is one."""
        if self.stream is not None:
            chunks = [self.body] if self.body else []
            async for chunk in self.stream:
                chunks.append(chunk.encode() if isinstance(chunk, str) else chunk)
            self.body = b"".join(chunks)
            self.stream = None
        return self.body

    def __getstate__(self) -> tuple[None, dict[str, object]]:
        # Unanswered: a copy (a caching middleware's pickled answer) answers a request
        # of its own.
        return None, {
            "_returned": False,
            "body": self.body,
            "headers": self.headers,
            "status": self.status,
            "stream": self.stream,
        }

    def __repr__(self) -> str:
        return f"<Response {self.status}>"


def _status(status: object) -> int:
    """A status given as another kind of int (``HTTPStatus.CREATED``) as it is;
    ``TypeError`` for anything else. ``200.0`` or ``Decimal(200)`` (a number read from
    DynamoDB) equals 200, so it passed the app's check of the status, and then each
    runtime failed on it its own way: uvicorn's h11 dropped the connection, and the
    request's log line was lost."""
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    raise TypeError(f"a Response status is an int, not {type(status).__name__}")


def _in_charset(text: str, content_type: str, utf8: bytes) -> bytes:
    """``text`` encoded in the charset ``content_type`` names (``utf8``, its UTF-8, for
    none or UTF-8); ``ValueError`` for a charset Python has no text codec for, or one
    that cannot hold ``text``. Sent as UTF-8 under "charset=iso-8859-1", "café" read as
    "cafÃ©" on every runtime, and under "utf-16" as no text at all."""
    charset = charset_of(content_type)
    if charset is None or charset in ("utf-8", "utf8"):
        return utf8
    try:
        return text.encode(charset)
    except LookupError:
        raise ValueError(f"a str body cannot be sent in charset {charset!r}") from None


# One parameter of a media type, as the Fetch standard's MIME type parser reads it: a
# quoted value runs to its closing quote, ";" inside it included.
_PARAMETER = LazyPattern(r';[\t\n\r ]*([^;=]*)(?:="((?:[^"\\]|\\.?)*)"?[^;]*|=([^;]*))?')
_ESCAPED = LazyPattern(r"\\(.)")
_SPACE = "\t\n\r "


def _charset_matters(content_type: str) -> bool:
    """Whether text of this type is decoded by the charset it names, else by a guess:
    ``text/*`` and XML (``*/xml``, ``*/*+xml``); JSON is UTF-8 whatever it says."""
    media = content_type.split(";", 1)[0].strip(_SPACE).lower()
    return media.startswith("text/") or media.endswith(("/xml", "+xml"))


def charset_of(content_type: str) -> str | None:
    """The charset a Content-Type names, lowercased, as browsers read it (the first one;
    a quoted value is one value; an empty one is none); ``None`` when it names none.

    Split at every ";", 'text/html; q="a;charset=utf-16"; charset=utf-8' named UTF-16,
    where browsers read UTF-8 in it; and "charset=" named a charset no codec has."""
    start = content_type.find(";")
    if start < 0:
        return None
    for name, value, quoted in _parameters(content_type, start):
        if name.lower() == "charset" and (quoted or value.rstrip(_SPACE)):
            # An encoding's label is read without the spaces around it.
            return value.strip(_SPACE + "\f").lower() or None
    return None


def _parameters(content_type: str, start: int) -> Iterator[tuple[str, str, bool]]:
    """(name, value, quoted) for each parameter from the ";" at ``start``; the regular
    expression (and ``re``, a few ms of a cold start) only for a type that quotes one."""
    if '"' not in content_type:
        for parameter in content_type[start + 1 :].split(";"):
            name, equals, value = parameter.partition("=")
            if equals:
                yield name.lstrip(_SPACE), value, False
        return
    for match in _PARAMETER.compiled.finditer(content_type, start):
        name, quoted, plain = match.groups()
        if quoted is not None:
            yield name, _ESCAPED.compiled.sub(r"\1", quoted), True
        elif plain is not None:
            yield name, plain, False


def to_body(body: object) -> bytes:
    """A body given as ``str`` (sent as UTF-8) or another bytes-like object, as bytes;
    ``TypeError`` for anything else (a dict given where ``Response.json`` was meant),
    raised in the handler, where it becomes a 500 problem, rather than in each adapter
    its own way."""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise TypeError(
        f"a Response body is bytes or str, not {type(body).__name__} (Response.json for data)"
    )
