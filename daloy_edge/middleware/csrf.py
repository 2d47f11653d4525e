"""CSRF protection: Fetch Metadata / Origin checks plus session-bound, masked tokens.

>>> from daloy_edge import App, KeyRing
>>> from daloy_edge.middleware.sessions import SessionConfig, Sessions
>>> keys = KeyRing(["k" * 32])
>>> csrf = CSRFProtect(CSRFConfig(keys=keys, trusted_origins=("https://app.example",)))
>>> app = App(middleware=[Sessions(SessionConfig(keys=keys)), csrf])
"""

from __future__ import annotations

import os
import time

from daloy_edge._errors import ConfigError, Forbidden
from daloy_edge._phased import Phased
from daloy_edge._record import record
from daloy_edge._request import Request
from daloy_edge._secrets import KeyRing
from daloy_edge.middleware._origins import normalize_origin, own_origin
from daloy_edge.middleware._session import Session
from daloy_edge.signing import BadSignature, Signer, b64decode, b64encode, check_age

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable

    from daloy_edge._app import App
    from daloy_edge.types import Clock, RandomBytes


__all__ = ["CSRF_TOKEN_ISSUED", "CSRFConfig", "CSRFProtect", "csrf_token"]

CSRF_TOKEN_ISSUED = "daloy.csrf_token_issued"  # noqa: S105 (a state key, not a secret)
"""``request.state`` flag: this response carries a CSRF token (compression skips it)."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_STATE_KEY = "daloy.csrf"
_STAMP = 8
_MAC = 32
_RAW = _STAMP + _MAC


@record(frozen=True, kw_only=True)
class CSRFConfig:
    """How unsafe requests (POST, PUT, PATCH, DELETE, ...) are checked.

    ``trusted_origins``: other exact origins (``https://app.example``) allowed to send
    unsafe requests. ``allow_origin_only``: unsafe requests pass on the Fetch Metadata /
    Origin check alone, and only routes wrapped in ``csrf.token_required`` need a token
    (for JSON APIs, webhooks and login endpoints that cannot carry one).
    ``allow_same_site``: accept ``Sec-Fetch-Site: same-site`` (sibling subdomains).
    """

    keys: KeyRing
    trusted_origins: tuple[str, ...] = ()
    field_name: str = "csrf_token"
    header_name: str = "x-csrf-token"
    max_age: int = 12 * 3600
    allow_origin_only: bool = False
    allow_same_site: bool = False
    clock: Clock = time.time
    random_bytes: RandomBytes = os.urandom

    def __post_init__(self) -> None:
        for origin in self.trusted_origins:
            if origin == "*" or normalize_origin(origin) is None:
                raise ConfigError(f"trusted origin {origin!r} must be scheme://host[:port]")
        if not self.max_age > 0:  # NaN too: no token would ever be too old
            raise ConfigError("max_age must be positive")
        if not self.field_name or not self.header_name:
            raise ConfigError("field_name and header_name must not be empty")


def csrf_token(request: Request) -> str:
    """A fresh masked CSRF token for this request's session (embed it in forms).

    Each call returns a different string (BREACH), all valid for the session until it is
    regenerated or ``max_age`` passes. Needs :class:`CSRFProtect` and sessions.
    """
    protect = request.state.get(_STATE_KEY)
    if not isinstance(protect, CSRFProtect):
        raise RuntimeError("no CSRF protection: add the CSRFProtect middleware")
    return protect.issue(request)


def _session_of(request: Request) -> Session:
    session = request.session
    if not isinstance(session, Session):
        raise RuntimeError("CSRF tokens are bound to sessions: add the Sessions middleware")
    return session


class CSRFProtect(Phased):
    """Refuses cross-site unsafe requests and, unless ``allow_origin_only``, requires a
    token from the ``csrf_token`` form field or the ``X-CSRF-Token`` header.

    Security: a browser's ``Sec-Fetch-Site`` (or ``Origin``) must be same-origin or a
    trusted origin; the token is an HMAC of the session identity and a timestamp, masked
    with fresh random bytes on every issue, compared in constant time. Each of the three
    fields sent on several lines is read as its lines joined, which never passes, on
    every runtime. Failures are 403.
    """

    protects_against_csrf = True
    # Its origin check compares with the request's scheme: read by TrustedProxies, which
    # must resolve it first.
    reads_scheme = True
    __slots__ = ("_signer", "_trusted", "config", "token_required")

    def __init__(self, config: CSRFConfig) -> None:
        self.config = config
        self._signer = Signer(config.keys, purpose="csrf")
        self._trusted = frozenset(normalize_origin(o) for o in config.trusted_origins)
        # Per-route middleware that demands a token even with ``allow_origin_only``.
        self.token_required = _TokenRequired(self)

    def issue(self, request: Request) -> str:
        """A new masked token bound to the request's session."""
        session = _session_of(request)
        session.pin()
        stamp = int(self.config.clock()).to_bytes(_STAMP, "big")
        raw = stamp + self._signer.mac(session.id.encode("ascii") + stamp)
        pad = self.config.random_bytes(_RAW)
        request.state[CSRF_TOKEN_ISSUED] = True
        return b64encode(pad + bytes(a ^ b for a, b in zip(raw, pad, strict=True)))

    def check_app(self, app: App) -> None:
        """Refuse an app that checks tokens before the session they are bound to is loaded."""
        if not self.config.allow_origin_only:
            _refuse_before_sessions(self, app)

    def check_origin(self, request: Request) -> None:
        """403 unless the request is same-origin, from a trusted origin or not from a browser."""
        # Every line of each field as one (a browser sends one): a repeated field reads as
        # the one malformed value the runtimes that join lines deliver, never as its first
        # or last line, so it is refused everywhere.
        headers = request.headers
        site = headers.get_joined("sec-fetch-site")
        origin = headers.get_joined("origin")
        if site is not None:
            if site in ("same-origin", "none"):
                return
            if site == "same-site" and self.config.allow_same_site:
                return
        elif origin is None:
            return
        if origin is not None:
            normalized = normalize_origin(origin)
            if normalized is not None and (
                normalized in self._trusted or (site is None and normalized == own_origin(request))
            ):
                return
        raise Forbidden("cross-site request refused", slug="csrf-failed")

    async def check_token(self, request: Request) -> None:
        """403 unless a valid token for this session came in the header or form field."""
        session = request.session
        if not isinstance(session, Session) or not session.identified:
            # No session cookie came (or none that verified): no token can be bound to a
            # session that has no identity yet, so the body is not read to look for one.
            # Read first, a cookieless 1 MiB form cost a quarter of a second to refuse.
            raise Forbidden("missing or invalid CSRF token", slug="csrf-failed")
        submitted = request.headers.get_joined(self.config.header_name)
        if submitted is None and request.content_type == "application/x-www-form-urlencoded":
            submitted = (await request.form()).get(self.config.field_name)
        if submitted is None:
            raise Forbidden("missing or invalid CSRF token", slug="csrf-failed")
        try:
            self._verify(submitted, session)
        except BadSignature:
            raise Forbidden("missing or invalid CSRF token", slug="csrf-failed") from None

    def _verify(self, token: str, session: Session) -> None:
        if len(token) > 128:
            raise BadSignature()
        masked = b64decode(token)
        if len(masked) != 2 * _RAW:
            raise BadSignature()
        raw = bytes(a ^ b for a, b in zip(masked[:_RAW], masked[_RAW:], strict=True))
        stamp, mac = raw[:_STAMP], raw[_STAMP:]
        self._signer.verify_mac(session.id.encode("ascii") + stamp, mac)
        check_age(
            int.from_bytes(stamp, "big"),
            now=self.config.clock(),
            max_age=self.config.max_age,
            skew=self._signer.max_clock_skew,
        )

    def before(self, request: Request) -> Awaitable[None] | None:
        request.state[_STATE_KEY] = self
        if request.method not in SAFE_METHODS:
            self.check_origin(request)
            if not self.config.allow_origin_only:
                return self.check_token(request)
        return None


class _TokenRequired(Phased):
    """Demands a valid token on unsafe requests to the routes it wraps."""

    protects_against_csrf = True
    reads_scheme = True
    __slots__ = ("_protect",)

    def __init__(self, protect: CSRFProtect) -> None:
        self._protect = protect

    def check_app(self, app: App) -> None:
        """Refuse an app that checks tokens before the session they are bound to is loaded."""
        _refuse_before_sessions(self, app)

    def before(self, request: Request) -> Awaitable[None] | None:
        request.state[_STATE_KEY] = self._protect
        if request.method not in SAFE_METHODS:
            self._protect.check_origin(request)
            return self._protect.check_token(request)
        return None


def _refuse_before_sessions(check: CSRFProtect | _TokenRequired, app: App) -> None:
    """Refuse a token check on an unsafe route that runs before ``Sessions`` (or with no
    ``Sessions`` at all): the token is bound to a session not yet loaded, so every request
    to the route, a valid token or not, was refused with a 403."""
    app_wide = app._middleware
    for path, method, own in app.route_middleware():
        if method in SAFE_METHODS:
            continue
        chain = [*app_wide, *own]
        where = next((i for i, mw in enumerate(chain) if mw is check), None)
        if where is None:
            continue
        if not any(getattr(mw, "sets_session", False) for mw in chain[:where]):
            raise ConfigError(
                f"{method} {path}: CSRF tokens are bound to the session, and no Sessions runs"
                " before the check to load it, so every request would be refused (403);"
                " put Sessions before CSRFProtect"
            )
