"""CORS with an explicit allow-list; preflights are answered before anything else runs.

>>> cors = CORS(CORSConfig(allow_origins=("https://app.example",), allow_credentials=True))
"""

from __future__ import annotations

from _operator import itemgetter  # operator would load a Python module for it

from daloy_edge._chain import marked_before
from daloy_edge._charset import DIGITS, LOWER, TCHAR, Charset
from daloy_edge._errors import ConfigError, Forbidden
from daloy_edge._phased import Phased
from daloy_edge._record import record
from daloy_edge._request import Request
from daloy_edge._response import Response
from daloy_edge.middleware._origins import _DEFAULT_PORTS, normalize_origin, valid_port

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from daloy_edge._app import App
    from daloy_edge._headers import Headers

__all__ = ["CORS", "CORSConfig"]

# Names and patterns are checked without ``re``, which is not loaded at a cold start;
# unlike the ``^...$`` regexes this replaced, no trailing newline gets through.
_FIELD_NAME = Charset(TCHAR)
_LABEL = Charset(LOWER + DIGITS + "-")
_SAFELISTED = ("accept", "accept-language", "content-language", "content-type")
"""Names a preflight may always ask for: a browser asks for them when their value is not
CORS-safelisted (``Content-Type: application/json``, an ``Accept`` with a quote)."""
_MARKS = frozenset(
    {
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-expose-headers",
    }
)
"""Every name CORS sets on an answer besides ``Vary``, which it always adds."""
_first = itemgetter(0)
_VARY_ORIGIN = {"vary": "Origin"}
"""What a preflight refused for its origin carries: the refusal depends on the Origin."""
_ASKED = "Access-Control-Request-Method, Access-Control-Request-Headers"
_VARY_ASKED = {"vary": f"Origin, {_ASKED}"}
"""What any other preflight answer carries: 204 or 403 depends on what it asks for too."""


@record(frozen=True, kw_only=True)
class CORSConfig:
    """Who may read responses cross-origin.

    ``allow_origins``: exact origins, or ``"*"`` (any origin, never with credentials).
    ``allow_origin_patterns``: ``https://*.example.com`` (one DNS label for ``*``).
    ``allow_credentials``: cookies and HTTP auth cross-origin; refuses to build with
    ``"*"`` (the origin is never reflected). ``max_age``: preflight cache seconds.
    """

    allow_origins: tuple[str, ...] = ()
    allow_origin_patterns: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ("GET", "HEAD", "POST")
    allow_headers: tuple[str, ...] = ("content-type",)
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int = 600

    def __post_init__(self) -> None:
        for field in _LISTS:
            if isinstance(getattr(self, field), str):
                # Each character would be an entry: allow_headers="authorization" allowed
                # the headers "a", "u", "t", ... and refused every preflight asking for it.
                raise ConfigError(f"{field} must be a tuple of strings, not one string")
        wildcard = "*" in self.allow_origins
        if wildcard and self.allow_credentials:
            raise ConfigError("CORS '*' with credentials is refused: list the origins")
        if wildcard and (len(self.allow_origins) > 1 or self.allow_origin_patterns):
            raise ConfigError("CORS '*' already allows every origin; list nothing else")
        for origin in self.allow_origins:
            # What CSRF trusts, so one list configures both: "https://app.example:443"
            # reads as the "https://app.example" browsers send.
            if origin != "*" and normalize_origin(origin) is None:
                raise ConfigError(f"CORS origin {origin!r} must be scheme://host[:port]")
        for pattern in self.allow_origin_patterns:
            if _parse_pattern(pattern) is None:
                raise ConfigError(f"CORS pattern {pattern!r} must look like https://*.example.com")
        for name in (*self.allow_methods, *self.allow_headers, *self.expose_headers):
            if name != "*" and not _FIELD_NAME.fullmatch(name):
                raise ConfigError(f"invalid header or method name {name!r}")
        if "*" in (*self.allow_methods, *self.allow_headers, *self.expose_headers):
            raise ConfigError("list CORS methods and headers explicitly; '*' is not accepted")
        if type(self.max_age) is not int or not 0 <= self.max_age <= 86400:
            # Sent as written: "600.0" is no delta-seconds, and browsers ignore it.
            raise ConfigError("max_age must be whole seconds between 0 and 86400")


_LISTS = (
    "allow_origins",
    "allow_origin_patterns",
    "allow_methods",
    "allow_headers",
    "expose_headers",
)


def _parse_pattern(pattern: str) -> tuple[str, str] | None:
    r"""``(scheme, domain[:port])`` of ``scheme://*.domain[:port]``, the scheme's default
    port dropped; None when malformed.

    What ``^(https?)://\*\.([a-z0-9\-]+(?:\.[a-z0-9\-]+)+)(?::([0-9]{1,5}))?$`` accepted
    of the lower-cased pattern: two or more labels, then an optional port.
    """
    if not pattern.isascii():  # lower() maps the Kelvin sign to "k", as for origins
        return None
    text = pattern.lower()
    scheme, _, rest = text.partition("://*.")
    if scheme not in ("https", "http"):
        return None
    domain, colon, port = rest.partition(":")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if colon and not valid_port(port):
        return None
    if colon + port == _DEFAULT_PORTS[scheme]:
        # A browser never sends the scheme's own port: kept, ":443" matched no origin,
        # where the same port on an exact origin is dropped.
        return scheme, domain
    return scheme, rest


def _pattern(pattern: str) -> tuple[str, str]:
    parsed = _parse_pattern(pattern)
    if parsed is None:
        raise ConfigError(f"CORS pattern {pattern!r} must look like https://*.example.com")
    return parsed


class CORS(Phased):
    """Answers preflights itself and marks allowed cross-origin responses.

    A preflight (``OPTIONS`` with ``Access-Control-Request-Method``) never reaches a
    handler or auth: 204 with the allowed methods, headers and ``max-age`` for an allowed
    origin, 403 otherwise. Actual requests get ``Access-Control-Allow-Origin`` only for
    allowed origins; a repeated ``Origin`` field is no origin at all. ``Vary: Origin`` is
    always sent.

    Security: put it outside authentication so preflights (which carry no credentials)
    are not refused by it.
    """

    __slots__ = (
        "_any",
        "_credentials",
        "_exact",
        "_expose",
        "_known",
        "_methods",
        "_preflight",
        "_request_headers",
        "_wildcards",
        "config",
    )

    def __init__(self, config: CORSConfig) -> None:
        self.config = config
        self._any = "*" in config.allow_origins
        self._exact = frozenset(
            normalized
            for o in config.allow_origins
            if o != "*" and (normalized := normalize_origin(o)) is not None
        )
        # ``https://*.example.com`` as ``("https", "example.com")``.
        self._wildcards = frozenset(_pattern(p) for p in config.allow_origin_patterns)
        listed = [h.lower() for h in config.allow_headers]
        # Every name a preflight may ask for is named in the answer: browsers refuse a
        # request whose unsafe header the answer does not name, whatever its status.
        listed += [h for h in _SAFELISTED if h not in listed]
        self._request_headers = frozenset(listed)
        self._methods = frozenset(m.upper() for m in config.allow_methods)
        self._preflight = [
            ("access-control-allow-methods", ", ".join(m.upper() for m in config.allow_methods)),
            ("access-control-allow-headers", ", ".join(listed)),
            ("access-control-max-age", str(config.max_age)),
        ]
        self._credentials = config.allow_credentials
        self._expose = ", ".join(config.expose_headers) or None
        # The fields an actual request from each listed origin gets, keyed by the origin
        # as a browser sends it (the listed form): built once, not per response.
        self._known = {origin: tuple(self._marks(origin, True)) for origin in self._exact}

    def allowed(self, origin: str) -> bool:
        """True when ``origin`` may read responses."""
        # A configured origin exactly as configured is its own normal form.
        if self._any or origin in self._exact:
            return True
        normalized = normalize_origin(origin)
        if normalized is None or normalized != origin.lower():
            return False
        if normalized in self._exact:
            return True
        return bool(self._wildcards) and self._wildcard_allows(normalized)

    def _wildcard_allows(self, normalized: str) -> bool:
        # What ``^https://[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.example\.com$`` matched for the
        # pattern ``https://*.example.com``: a normalized origin's scheme has no '.', so
        # its first '.' ends the one label the '*' stands for.
        head, _, domain = normalized.partition(".")
        scheme, _, label = head.partition("://")
        return (
            (scheme, domain) in self._wildcards
            and label[:1] not in ("", "-")
            and label[-1] != "-"
            and _LABEL.fullmatch(label)
        )

    def _marks(self, origin: str, expose: bool) -> list[tuple[str, str]]:
        marks = [
            ("vary", "Origin"),
            ("access-control-allow-origin", "*" if self._any else origin.lower()),
        ]
        if self._credentials:
            marks.append(("access-control-allow-credentials", "true"))
        if expose and self._expose is not None:
            marks.append(("access-control-expose-headers", self._expose))
        return marks

    def _mark(self, response: Response, origin: str, *, expose: bool = False) -> None:
        _put(response.headers, self._marks(origin, expose))

    def _answer_preflight(self, request: Request, origin: str | None) -> Response:
        if origin is None or not self.allowed(origin):
            raise Forbidden(
                "CORS preflight from a foreign origin", slug="cors-refused", headers=_VARY_ORIGIN
            )
        # Every line of each field, as runtimes that join repeated fields deliver them: a
        # second method never matches one, and every header asked for on any line counts.
        headers = request.headers
        method = (headers.get_joined("access-control-request-method") or "").upper()
        asked = headers.get_joined("access-control-request-headers") or ""
        names = {h.strip().lower() for h in asked.split(",") if h.strip()}
        if method not in self._methods or not names <= self._request_headers:
            raise Forbidden(
                "CORS preflight asks for more than is allowed",
                slug="cors-refused",
                headers=_VARY_ASKED,
            )
        response = Response.empty(204, dict(self._preflight))
        self._mark(response, origin)
        response.headers.add_lowered("vary", _ASKED)
        return response

    def check_app(self, app: App) -> None:
        """Refuse an app where authentication that refuses anonymous requests runs before
        this: a preflight carries no credentials, so every one was refused (401)."""
        early = marked_before(app, self, "refuses_anonymous")
        if early is not None:
            raise ConfigError(
                f"{type(early).__name__} runs before CORS, and a preflight carries no"
                " credentials, so every preflight would be refused (401); put CORS first"
            )

    def before(self, request: Request) -> Response | None:
        if request.method == "OPTIONS" and "access-control-request-method" in request.headers:
            return self._answer_preflight(request, request.headers.get_joined("origin"))
        return None

    def on_rejected(self, request: Request, response: Response) -> None:
        """Mark answers to requests refused before any middleware ran (a rejected path,
        oversized headers, the deadline's 504) as any other answer."""
        self.after(request, response)

    def after(self, request: Request, response: Response) -> Response:
        # Several Origin lines read as one field, as runtimes that join them deliver it:
        # no origin is allowed that way, whichever line a runtime would have kept.
        origin = request.headers.get_joined("origin")
        if origin is not None:
            marks: Sequence[tuple[str, str]] | None = self._known.get(origin)
            if marks is None and self.allowed(origin):
                marks = self._marks(origin, True)
            if marks is not None:
                _put(response.headers, marks)
                return response
        response.headers.add_lowered("vary", "Origin")
        return response


def _put(headers: Headers, marks: Sequence[tuple[str, str]]) -> None:
    """Add ``Vary: Origin`` and set the other ``marks``, replacing what a handler set."""
    # Most responses carry none of them yet: one C-level pass to know it, and one append
    # of them all.
    if _MARKS.isdisjoint(map(_first, headers._items)):
        headers.extend_lowered(marks)
        return
    present = headers.names()
    headers.add_lowered("vary", "Origin")
    for name, value in marks[1:]:
        if name in present:
            headers.put_lowered(name, value)
        else:
            headers.add_lowered(name, value)
