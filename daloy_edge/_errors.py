"""HTTP errors, rendered as RFC 9457 ``application/problem+json`` in one place."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TypeAlias, TypeVar

    E = TypeVar("E", bound=BaseException)
    Problems: TypeAlias = dict[type[BaseException], Callable[[BaseException], "HTTPError"]]
    """One app's own mappings (:meth:`App.register_problem`)."""

__all__ = [
    "PROBLEM_TYPE_PREFIX",
    "BadRequest",
    "ConfigError",
    "Forbidden",
    "GatewayTimeout",
    "HTTPError",
    "InternalServerError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RequestHeaderFieldsTooLarge",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "check_problem",
    "problem_for",
    "register_problem",
]

PROBLEM_TYPE_PREFIX = "urn:daloy-edge:problem:"
"""Every problem ``type`` is this prefix plus a slug such as ``not-found``."""

# The members the error itself states; ``extra`` cannot replace them.
_OWN_MEMBERS = frozenset({"type", "title", "status", "detail", "request_id"})


# RFC 3986's unreserved characters, ":" and "/": each is a URN name character as it stands
# (RFC 8141 2, a name that does not start with "/"), so the prefix and any slug of them make
# a type every URI parser reads.
_SLUG_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/")


def _checked_slug(slug: object) -> str:
    """``slug`` when it is 1 or more URI unreserved characters, ``:`` or ``/`` (not first);
    ``ValueError`` otherwise. The type is the prefix and the slug: "note missing" made the
    type "urn:daloy-edge:problem:note missing", which no URI parser reads (RFC 9457 3.1.1)."""
    if isinstance(slug, str) and slug and slug[0] != "/" and _SLUG_CHARACTERS.issuperset(slug):
        return slug
    raise ValueError(
        f"a problem slug is 1 or more of A-Z a-z 0-9 - . _ ~ : / (not / first), not {slug!r}"
    )


class ConfigError(ValueError):
    """A configuration that would be insecure or cannot work; raised at build time."""


def _error_status(status: object) -> int:
    """``status`` when it is a client or server error status (``HTTPStatus`` members
    too); ``ValueError`` otherwise. A problem sent as a 200 told clients that check the
    status the request had worked, a 302 was a redirect to nowhere, and a 204 or 304
    lost the problem document."""
    if isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599:
        return status
    raise ValueError(
        f"an HTTPError's status is a client or server error (400 to 599), not {status!r}"
    )


class HTTPError(Exception):
    """An error that maps to one HTTP status and problem type.

    ``detail`` is shown to clients, so it must never hold secrets or exception text.
    ``headers`` are checked as they go into the answer, as a field added to a
    :class:`~daloy_edge.Headers` is: one no runtime sends as given (a line break, a
    control character, a character past U+00FF, a name that is no token) makes the
    answer a 500 problem, with the field's name in the log. ``Content-Type``,
    ``Content-Encoding`` and ``Content-Length`` are left out: the body is the problem.
    ``extra`` adds extension members; one named ``type``, ``title``, ``status``,
    ``detail`` or ``request_id`` is left out, as the error states those itself.
    ``status`` is a client or server error, 400 to 599 (``ValueError`` otherwise), and
    ``slug``, which the problem ``type`` ends in, is 1 or more of ``A-Z a-z 0-9 - . _ ~ :``
    and ``/``, not ``/`` first (``ValueError`` otherwise: a space or ``<`` made a type no
    URI parser reads).
    Security: raise these (or a subclass) rather than building error responses by hand;
    the app renders them in one place, with the request id and the secure headers.
    """

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        slug: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        if status is not None:
            status = _error_status(status)
        if status is not None and status != self.status and (title is None or slug is None):
            # The class's own title and type name another status: HTTPError(status=404)
            # was a 404 titled "Internal Server Error" of type internal-error.
            named_slug, named_title = _named(status)
            slug, title = slug or named_slug, title or named_title
        super().__init__(detail or title or self.title)
        if status is not None:
            self.status = status
        if slug is not None:
            self.slug = _checked_slug(slug)
        if title is not None:
            self.title = title
        self.detail = detail
        self.headers: dict[str, str] = dict(headers or {})
        self.extra: dict[str, object] = dict(extra or {})

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass that sets only its status (class Conflict(HTTPError): status = 409)
        # would keep the title and type of the class it extends, naming another status.
        own = cls.__dict__
        if "status" in own:
            cls.status = _error_status(cls.status)
        if "slug" in own:
            cls.slug = _checked_slug(cls.slug)
        if "status" in own and ("slug" not in own or "title" not in own):
            slug, title = _named(cls.status)
            if "slug" not in own:
                cls.slug = slug
            if "title" not in own:
                cls.title = title

    @property
    def type(self) -> str:
        """The problem type URI."""
        return PROBLEM_TYPE_PREFIX + self.slug

    def problem(self, request_id: str | None) -> dict[str, object]:
        """The problem document for this error."""
        body: dict[str, object] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.extra:
            # Extension members add to the problem; they never restate its own members
            # (extra={"status": 200} made a 418 answer say 200, "request_id" forged the id).
            for name, value in self.extra.items():
                if name not in _OWN_MEMBERS:
                    body[name] = value
        if request_id is not None:
            body["request_id"] = request_id
        return body


class BadRequest(HTTPError):
    """400: the request is malformed or unsafe."""

    status, slug, title = 400, "bad-request", "Bad Request"


class Unauthorized(HTTPError):
    """401: credentials are missing or invalid."""

    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(HTTPError):
    """403: the caller is known but not allowed."""

    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(HTTPError):
    """404: no route matches the path."""

    status, slug, title = 404, "not-found", "Not Found"


class MethodNotAllowed(HTTPError):
    """405: the path exists but not for this method (``Allow`` lists those that do)."""

    status, slug, title = 405, "method-not-allowed", "Method Not Allowed"


class PayloadTooLarge(HTTPError):
    """413: the body is larger than the route accepts."""

    status, slug, title = 413, "payload-too-large", "Payload Too Large"


class UnsupportedMediaType(HTTPError):
    """415: the body's content type is not one the route accepts."""

    status, slug, title = 415, "unsupported-media-type", "Unsupported Media Type"


class TooManyRequests(HTTPError):
    """429: a rate limit was hit."""

    status, slug, title = 429, "rate-limited", "Too Many Requests"


class RequestHeaderFieldsTooLarge(HTTPError):
    """431: too many header fields, or fields too large."""

    status, slug, title = 431, "header-fields-too-large", "Request Header Fields Too Large"


class InternalServerError(HTTPError):
    """500: a handler failed; the client learns nothing more."""

    status, slug, title = 500, "internal-error", "Internal Server Error"


class ServiceUnavailable(HTTPError):
    """503: shed under overload; retry later."""

    status, slug, title = 503, "service-unavailable", "Service Unavailable"


class GatewayTimeout(HTTPError):
    """504: the request deadline passed."""

    status, slug, title = 504, "deadline-exceeded", "Gateway Timeout"


_NAMES = {
    error.status: (error.slug, error.title)
    for error in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        PayloadTooLarge,
        UnsupportedMediaType,
        TooManyRequests,
        RequestHeaderFieldsTooLarge,
        InternalServerError,
        ServiceUnavailable,
        GatewayTimeout,
    )
} | {
    409: ("conflict", "Conflict"),
    410: ("gone", "Gone"),
    412: ("precondition-failed", "Precondition Failed"),
    422: ("unprocessable-content", "Unprocessable Content"),
    501: ("not-implemented", "Not Implemented"),
    502: ("bad-gateway", "Bad Gateway"),
}


def _named(status: int) -> tuple[str, str]:
    """The problem type slug and title for a status an error was given without them
    (RFC 9110's names; its class name for the statuses not listed)."""
    named = _NAMES.get(status)
    if named is not None:
        return named
    if 400 <= status < 500:
        return "client-error", "Client Error"
    return "server-error", "Server Error"


_PROBLEM_FACTORIES: dict[type[BaseException], Callable[[BaseException], HTTPError]] = {}


def register_problem(exc_type: type[E], factory: Callable[[E], HTTPError]) -> None:
    """Map a primitive error (one that knows nothing of HTTP) to an :class:`HTTPError`;
    ``factory`` is called with an instance of ``exc_type`` (or of a subclass).

    The mapping holds for every app in the process, as the exception class does (a
    library's errors); :meth:`App.register_problem <daloy_edge.App.register_problem>`
    maps for one app alone.

    >>> class Denied(Exception): ...
    >>> register_problem(Denied, lambda e: Forbidden(slug="denied"))
    """
    # Looked up by the class in the exception's MRO, so only ``exc_type``'s come here.
    check_problem(exc_type, factory)
    _PROBLEM_FACTORIES[exc_type] = factory  # type: ignore[assignment]


def check_problem(exc_type: object, factory: object) -> None:
    """Refuse a mapping that could never be used: ``exc_type`` must be an exception class.

    Anything else was kept and never matched: ``register_problem(Denied(), ...)`` (an
    instance) or ``register_problem(NotFound, ...)`` (an HTTPError, rendered as it is)
    left the mapping dead, and the error it was meant for a 500 or its own answer.
    """
    if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
        raise ConfigError(f"register_problem needs an exception class, not {exc_type!r}")
    if issubclass(exc_type, HTTPError):
        raise ConfigError(
            f"{exc_type.__name__} is an HTTPError, answered as it is; raise the one you want"
        )
    if not callable(factory):
        raise ConfigError(f"register_problem needs a callable factory, not {factory!r}")


def problem_for(exc: BaseException, own: Problems | None = None) -> HTTPError | None:
    """The HTTP error for ``exc``: itself, a registered mapping, or ``None`` (a bug: 500).

    The mapping of the most specific class in ``exc``'s MRO wins; for one class, an
    app's ``own`` mapping comes before the process-wide one.
    """
    if isinstance(exc, HTTPError):
        return exc
    for klass in type(exc).__mro__:
        factory = own.get(klass) if own else None
        if factory is None:
            factory = _PROBLEM_FACTORIES.get(klass)
        if factory is not None:
            return factory(exc)
    return None
