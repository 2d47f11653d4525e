"""The per-request object every handler and middleware receives."""

from __future__ import annotations

from daloy_edge._body import Refused, declared_length, read_bounded
from daloy_edge._charset import ALNUM, allowed, only
from daloy_edge._cookies import parse_cookies
from daloy_edge._errors import BadRequest, UnsupportedMediaType
from daloy_edge._headers import Headers
from daloy_edge._json import UnsafeJSON, parse_json
from daloy_edge._paths import percent_decode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Protocol, overload

    from daloy_edge._body import BodySource
    from daloy_edge._response import Response
    from daloy_edge.types import JSON

    class DeliveryCheck(Protocol):
        """An adapter's check of a final response its platform may not deliver."""

        unmeasured: int
        """Bodies up to this many bytes pass without a call (nearly all)."""

        def __call__(self, request: Request, response: Response, /) -> Exception | None: ...


__all__ = ["DEFAULT_MAX_BODY", "QueryParams", "Request", "is_csp_nonce", "new_request"]

DEFAULT_MAX_BODY = 1024 * 1024


_MAX_FIELDS = 1000
_NO_NAMES: frozenset[str] = frozenset()
_NONCE_TABLE: bytes | None = None


def is_csp_nonce(value: object) -> bool:
    """True for a CSP base64-value: letters, digits, "+", "/", "-" and "_", then up to
    two "=" (CSP3 2.3.1)."""
    global _NONCE_TABLE
    if not isinstance(value, str):
        return False
    if _NONCE_TABLE is None:  # built on first use: most apps never set a nonce by hand
        _NONCE_TABLE = allowed(ALNUM + "+/-_")
    body = value.rstrip("=")
    return len(value) - len(body) <= 2 and only(body, _NONCE_TABLE)


def _parse_pairs(text: str) -> list[tuple[str, str]]:
    """The fields of a query or form as ``parse_qsl(text, keep_blank_values=True)`` reads
    them, with escapes decoded by :func:`percent_decode`: ``unquote`` decodes one escape
    at a time in Python, and a 1 MiB form of escapes took 0.3 s of CPU to read."""
    # Fields, not separators: parse_qsl's own bound counts every "&", so an empty field
    # ("a=1&&b=2", a trailing "&") counted too, and a query of 1000 fields and a trailing
    # "&" was refused, where REST APIs and ALB, which hand over the fields alone, served
    # it. One count as before; the split only for a query near the bound.
    if text.count("&") >= _MAX_FIELDS:
        parts = text.split("&")
        if len(parts) - parts.count("") > _MAX_FIELDS:
            raise BadRequest(f"more than {_MAX_FIELDS} fields")
    pairs = []
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            pairs.append(
                (percent_decode(name.replace("+", " ")), percent_decode(value.replace("+", " ")))
            )
    return pairs


class QueryParams:
    """Query-string parameters; repeated keys keep every value in order."""

    __slots__ = ("_items",)

    def __init__(self, query_string: str) -> None:
        self._items: list[tuple[str, str]] = _parse_pairs(query_string) if query_string else []

    if TYPE_CHECKING:
        # A value, whenever a ``str`` default is given (as ``Mapping.get`` types it).

        @overload
        def get(self, name: str, default: None = None) -> str | None: ...
        @overload
        def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``."""
        for key, value in self._items:
            if key == name:
                return value
        return default

    def __getitem__(self, name: str) -> str:
        """The first value of ``name``; ``KeyError`` when it is absent (as a mapping)."""
        for key, value in self._items:
            if key == name:
                return value
        raise KeyError(name)

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``."""
        return [v for k, v in self._items if k == name]

    def items(self) -> list[tuple[str, str]]:
        """Every pair in order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return any(k == name for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)


class Request:
    """An HTTP request, the same on every runtime.

    Adapters fill in only runtime facts: the trustworthy peer ``client`` address, the
    ``deadline`` (``time.monotonic()`` seconds; the app then sets the earlier of it and
    its own) and ``env`` bindings. The body is read lazily and never past ``max_body``
    bytes.

    Security: ``method`` is kept as received. Methods are case-sensitive (RFC 9110), so
    ``delete`` is not ``DELETE``: a proxy rule that denies ``DELETE`` lets it through,
    and the app refuses it (400) rather than serve it as ``DELETE``.
    """

    __slots__ = (
        "__dict__",
        "_body",
        "_body_cache",
        "_cookie_repeats",
        "_cookies",
        "_csp_nonce",
        "_deliverable",
        "_limit_of",
        "_nonce_maker",
        "_path",
        "_query",
        "_session",
        "_session_maker",
        "client",
        "client_ip",
        "deadline",
        "env",
        "headers",
        "max_body",
        "method",
        "path_params",
        "principal",
        "query_string",
        "raw_path",
        "request_id",
        "route",
        "runtime",
        "scheme",
        "state",
        "sync_in_thread",
        "timings",
    )

    # A class default, set on the instance only when the app is served under a prefix:
    # the common request never stores it.
    root_path: str = ""
    """The prefix the app is served under, taken off the path before routing (an ASGI
    server's ``root_path``, ``App(root_path=...)``); empty when there is none.
    :attr:`url` includes it, :attr:`path` and :attr:`raw_path` do not."""

    def __init__(
        self,
        method: str,
        raw_path: str,
        *,
        query_string: str = "",
        headers: Headers | None = None,
        scheme: str = "https",
        client: str | None = None,
        body: BodySource = b"",
        deadline: float | None = None,
        env: Mapping[str, str] | None = None,
        runtime: str = "unknown",
        sync_in_thread: bool = False,
    ) -> None:
        self.method = method
        self.raw_path = raw_path or "/"
        self.query_string = query_string
        self.headers = headers if headers is not None else Headers()
        self.scheme = scheme
        self.client = client
        self.client_ip = client
        self._body: BodySource = body
        self._body_cache: bytes | None = None
        self._path: str | None = None
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self.deadline = deadline
        self.env: Mapping[str, str] = {} if env is None else env
        self.runtime = runtime
        self.sync_in_thread = sync_in_thread
        self.max_body = DEFAULT_MAX_BODY
        self.path_params: dict[str, str] = {}
        self.route: str | None = None
        self.request_id = ""
        self.principal: object | None = None
        self._session: object | None = None
        self._session_maker: Callable[[Request], object] | None = None
        self._csp_nonce: str | None = None
        self._nonce_maker: Callable[[], str] | None = None
        # The route's own body limit for a body read before routing (set by the app
        # when some route has one).
        self._limit_of: Callable[[Request], int | None] | None = None
        self.state: dict[str, object] = {}
        self.timings: list[tuple[str, float]] = []
        # Set by a buffering runtime's adapter whose platform delivers only so much (Lambda):
        # the app calls it with a final response whose body is past its ``unmeasured``
        # bytes, before the request's log line, and answers the exception it returns (a
        # problem) instead of a response the platform would fail with an answer of its own.
        self._deliverable: DeliveryCheck | None = None

    @property
    def csp_nonce(self) -> str | None:
        """This response's CSP nonce, for ``<script nonce=...>``; ``None`` without
        :class:`~daloy_edge.middleware.secure_headers.SecureHeaders`. Drawn when first
        read: most responses are not HTML and never need one. One a handler sets must be
        a base64 value (letters, digits, ``+ / - _``, up to two ``=``): ``ValueError``."""
        nonce = self._csp_nonce
        if nonce is None and self._nonce_maker is not None:
            nonce = self._csp_nonce = self._nonce_maker()
        return nonce

    @csp_nonce.setter
    def csp_nonce(self, value: str | None) -> None:
        if value is not None and not is_csp_nonce(value):
            # It goes into the CSP field as it is: a quote or a space would add sources
            # to the policy ("x 'unsafe-eval'"), a line break would split the field.
            raise ValueError(
                "a CSP nonce is a base64 value: letters, digits, + / - _, then up to two ="
            )
        self._csp_nonce = value

    def draw_nonces_with(self, maker: Callable[[], str] | None) -> None:
        """Have :attr:`csp_nonce` drawn by ``maker`` when first read (CSP middleware)."""
        self._nonce_maker = maker

    @property
    def session(self) -> object | None:
        """The request's session (see :class:`~daloy_edge.middleware.sessions.Sessions`),
        ``None`` without one. A request that came without a session cookie gets a fresh
        session when this is first read: most requests never read it."""
        session = self._session
        if session is None and self._session_maker is not None:
            session = self._session = self._session_maker(self)
        return session

    @session.setter
    def session(self, value: object | None) -> None:
        self._session = value
        self._session_maker = None

    def make_session_with(self, maker: Callable[[Request], object]) -> None:
        """Have :attr:`session` made by ``maker(request)`` when first read, in place of
        any session set before (session middleware)."""
        self._session = None
        self._session_maker = maker

    # Computed once on first use (``functools.cached_property`` costs a lock per access
    # on this Python; these are read on every request).
    @property
    def path(self) -> str:
        """The percent-decoded path (already vetted by the app's sanitation)."""
        path = self._path
        if path is None:
            raw = self.raw_path
            # Most paths hold no escape: no call for them.
            path = self._path = percent_decode(raw) if "%" in raw else raw
        return path

    @property
    def query(self) -> QueryParams:
        """Parsed query parameters."""
        query = self._query
        if query is None:
            query = self._query = QueryParams(self.query_string)
        return query

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the client (first occurrence of a name wins; see
        :meth:`cookie_repeated`)."""
        cookies = self._cookies
        if cookies is None:
            header = "; ".join(self.headers.get_all("cookie"))
            cookies, self._cookie_repeats = parse_cookies(header) if header else ({}, _NO_NAMES)
            self._cookies = cookies
        return cookies

    def cookie_repeated(self, name: str) -> bool:
        """True when the cookie ``name`` was sent more than once, in one ``Cookie`` field
        or across several: which one counts differs by runtime (the first, the last, or
        none where lines are joined with commas), so a cookie that must be one value is
        refused on it (sessions)."""
        if self._cookies is None:
            self.cookies  # noqa: B018 (parses the header, noting the repeated names)
        return name in self._cookie_repeats

    @property
    def host(self) -> str:
        """The ``Host`` header (empty when absent)."""
        return self.headers.get("host", "") or ""

    @property
    def url(self) -> str:
        """The full URL as the client addressed it (:attr:`root_path` included).

        Security: its host is the ``Host`` header, which the client chooses wherever the
        platform does not route on it: behind an ALB listener's default rule, and in front
        of any ASGI server (a proxy passes the client's on unless told to set its own).
        Build a URL that leaves the request (a link in an e-mail, an OAuth
        ``redirect_uri``, a redirect to another host) from a configured base URL, never
        from this; daloy_edge itself builds none from it.
        """
        query = f"?{self.query_string}" if self.query_string else ""
        return f"{self.scheme}://{self.host}{self.root_path}{self.raw_path}{query}"

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-cased, without parameters; empty when the
        field is absent or repeated, in several lines or joined into one."""
        values = self.headers.get_all("content-type")
        # A repeated field names no one type: runtimes keep the first, the last, or both
        # joined with a comma (HTTP APIs), so reading either would differ by runtime.
        if len(values) != 1:
            return ""
        value = values[0]
        # HTTP APIs and Function URLs join the lines themselves: "application/json; v=1"
        # then "text/plain" arrive as one value, whose type part alone looks like JSON.
        if "," in value:
            from daloy_edge._mediatype import lists_types  # only for a value holding one

            if lists_types(value):
                return ""
        # Only the spaces and tabs HTTP allows around it: str.strip() also dropped a
        # no-break space or NEL, which left "\xa0application/json" (no media type to a
        # proxy or filter) read as JSON here.
        return value.split(";", 1)[0].strip(" \t").lower()

    async def body(self) -> bytes:
        """The whole body; 413 past ``max_body``, 400 when it contradicts Content-Length."""
        if self._body_cache is None:
            limit_of = self._limit_of
            if limit_of is not None and self.route is None:
                # Read before routing (by app-wide or mount middleware): the route's own
                # limit, larger or smaller, binds it, not the app's.
                limit = limit_of(self)
                if limit is not None:
                    self.max_body = limit
            declared = declared_length(self.headers.get("content-length"))
            try:
                self._body_cache = await read_bounded(self._body, self.max_body, declared)
            except Exception as exc:
                # The stream stopped where the read failed: read again, its rest (or
                # nothing) would pass for the whole body. Every later read fails alike.
                self._body = Refused(exc)
                raise
            self._body = b""
        return self._body_cache

    async def json(self) -> JSON:
        """The body parsed as hardened JSON; 415 unless the content type is JSON (the body
        UTF-8, in no content coding), 400 if unsafe."""
        media = self.content_type
        if media != "application/json" and not (
            media.startswith("application/") and media.endswith("+json")
        ):
            raise UnsupportedMediaType("expected application/json")
        from daloy_edge._mediatype import refuse_unreadable

        refuse_unreadable(self.headers)
        data = await self.body()
        try:
            return parse_json(data)
        except UnsafeJSON as exc:
            raise BadRequest(f"invalid JSON body: {exc}") from None

    async def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body (first value of each field); 415
        for another type, a content coding or a charset other than UTF-8 (in the type's
        ``charset`` or a ``_charset_`` field)."""
        if self.content_type != "application/x-www-form-urlencoded":
            raise UnsupportedMediaType("expected application/x-www-form-urlencoded")
        from daloy_edge._mediatype import UTF8, refuse_unreadable

        refuse_unreadable(self.headers)
        data = await self.body()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("form body is not UTF-8") from None
        fields: dict[str, str] = {}
        for key, value in _parse_pairs(text):
            # A browser fills a form's "_charset_" field with the encoding it submits in
            # (HTML form submission), and some servers decode the form by it: escapes
            # read here as UTF-8 (a latin-1 "%E9" as U+FFFD) mean other text to them.
            if key == "_charset_" and value and value.strip().lower() not in UTF8:
                raise UnsupportedMediaType("only UTF-8 bodies are accepted")
            fields.setdefault(key, value)
        return fields

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.raw_path!r} id={self.request_id!r}>"


_new = object.__new__


def new_request(
    method: str,
    raw_path: str,
    *,
    query_string: str,
    headers: Headers,
    scheme: str,
    client: str | None,
    body: BodySource,
    env: Mapping[str, str] | None,
    runtime: str,
) -> Request:
    """``Request(method, raw_path, query_string=..., ...)`` for adapters, which build one
    per invocation: calling the class goes through ``type.__call__`` and the defaults of
    ``__init__``, about as much work again as setting the fields. Sets every field
    ``__init__`` sets, to the same values (a test holds the two together)."""
    request: Request = _new(Request)
    request.method = method
    request.raw_path = raw_path or "/"
    request.query_string = query_string
    request.headers = headers
    request.scheme = scheme
    request.client = request.client_ip = client
    request._body = body
    request._body_cache = request._path = request._query = request._cookies = None
    request.deadline = None
    request.env = {} if env is None else env
    request.runtime = runtime
    request.sync_in_thread = False
    request.max_body = DEFAULT_MAX_BODY
    request.path_params = {}
    request.route = None
    request.request_id = ""
    request.principal = request._session = request._session_maker = None
    request._csp_nonce = request._nonce_maker = request._limit_of = None
    request.state = {}
    request.timings = []
    request._deliverable = None
    return request
