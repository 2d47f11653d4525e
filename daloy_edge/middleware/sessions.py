"""Signed-cookie sessions: the data lives in the cookie, signed, bounded and expiring.

>>> from daloy_edge import App, KeyRing
>>> from daloy_edge.middleware.csrf import CSRFConfig, CSRFProtect
>>> keys = KeyRing(["k" * 32])
>>> app = App(middleware=[Sessions(SessionConfig(keys=keys)), CSRFProtect(CSRFConfig(keys=keys))])
"""

from __future__ import annotations

import os
import time

from daloy_edge._cookies import format_set_cookie
from daloy_edge._errors import ConfigError
from daloy_edge._json import UnsafeJSON, dumps, parse_json
from daloy_edge._phased import Phased
from daloy_edge._record import record
from daloy_edge._request import Request
from daloy_edge._response import Response
from daloy_edge._secrets import KeyRing
from daloy_edge.middleware._session import Session, random_session_id
from daloy_edge.middleware.csrf import CSRF_TOKEN_ISSUED
from daloy_edge.signing import BASE64URL, BadSignature, Signer, Verified

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    from daloy_edge._app import App
    from daloy_edge.types import JSON, Clock, RandomBytes

__all__ = ["Session", "SessionConfig", "SessionTooLarge", "Sessions", "get_session"]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HOST_COOKIE = "__Host-session"
INSECURE_COOKIE = "session"


class SessionTooLarge(Exception):
    """A handler stored more in the session than one cookie can carry."""


@record(frozen=True, kw_only=True)
class SessionConfig:
    """How sessions are signed, named and expired.

    ``keys``: the first signs, the others still verify (rotation); each at least 32 bytes.
    ``cookie_name``: another name than ``__Host-session`` is signed into the cookie, so
    apps sharing ``keys`` under their own names cannot take each other's sessions.
    ``max_age``: absolute lifetime from login; ``idle_timeout``: lifetime without a request.
    ``insecure_http_cookies`` drops ``Secure`` (and so the ``__Host-`` prefix) for local
    plain-HTTP development only. ``allow_no_csrf`` lets an app with unsafe routes build
    without CSRF protection.
    """

    keys: KeyRing
    cookie_name: str | None = None
    max_age: int = 7 * 24 * 3600
    idle_timeout: int = 8 * 3600
    max_bytes: int = 4096
    same_site: Literal["Lax", "Strict"] = "Lax"
    insecure_http_cookies: bool = False
    allow_no_csrf: bool = False
    clock: Clock = time.time
    random_bytes: RandomBytes = os.urandom

    def __post_init__(self) -> None:
        # NaN too: no session would ever be too old, nor idle too long.
        if not (self.max_age > 0 and self.idle_timeout > 0):
            raise ConfigError("max_age and idle_timeout must be positive")
        if self.idle_timeout > self.max_age:
            raise ConfigError("idle_timeout must not exceed max_age")
        if not 256 <= self.max_bytes <= 4096:
            raise ConfigError("max_bytes must be between 256 and 4096 (one cookie)")
        # Checked at run time too: "None" would send the cookie with cross-site requests,
        # and any other text would go into the Set-Cookie line as it is. In any case, as
        # browsers read it (Starlette's "lax"); the cookie spells it "Lax".
        same_site = self.same_site
        if not isinstance(same_site, str) or same_site.lower() not in ("lax", "strict"):
            raise ConfigError("same_site must be 'Lax' or 'Strict'")
        name = self.name
        try:
            # The cookie prefixes' rules, in any case of the prefix, as browsers apply them.
            format_set_cookie(name, "", secure=not self.insecure_http_cookies)
        except ValueError as exc:
            hint = "; choose another name for plain HTTP" if self.insecure_http_cookies else ""
            raise ConfigError(f"session cookie {name!r}: {exc}{hint}") from None

    @property
    def name(self) -> str:
        """The cookie name in force."""
        if self.cookie_name is not None:
            return self.cookie_name
        return INSECURE_COOKIE if self.insecure_http_cookies else HOST_COOKIE


def get_session(request: Request) -> Session:
    """``request.session``, typed; a ``RuntimeError`` when no :class:`Sessions` ran."""
    session = request.session
    if not isinstance(session, Session):
        raise RuntimeError("no session: add the Sessions middleware")
    return session


class Sessions(Phased):
    """Loads ``request.session`` from the signed cookie and writes it back when needed.

    A cookie verified by an older key is re-issued with the first key, so rotating keys
    logs nobody out. The cookie is refreshed once a quarter of ``idle_timeout`` has passed,
    so active users stay signed in until ``max_age``.

    Security: an app with unsafe-method routes and no CSRF middleware refuses to build
    unless ``allow_no_csrf=True``. Cookies are ``__Host-``, Secure, HttpOnly, SameSite=Lax.
    """

    sets_session = True  # read by CSRF protection, whose tokens are bound to the session
    __slots__ = ("_loaded", "_maker", "_refresh_after", "_signer", "config", "name")

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.name = config.name
        # A named cookie's name is signed in: a session another app or mount issued with
        # the same keys under its own name is no session here. The default names keep
        # the plain purpose, so the cookies they already carry stay valid; "session"
        # written out is a name of the app's own, not the plain-HTTP default.
        bound = config.cookie_name is not None and config.cookie_name != HOST_COOKIE
        self._signer = Signer(config.keys, purpose="session:" + self.name if bound else "session")
        self._refresh_after = config.idle_timeout // 4
        # Where ``before`` leaves the session it loaded and its cookie, for ``after``.
        self._loaded = f"daloy.sessions.{id(self)}"
        self._maker = self._fresh

    def check_app(self, app: App) -> None:
        """Refuse an app whose unsafe routes under these sessions have no CSRF protection."""
        if self.config.allow_no_csrf:
            return
        app_wide = app._middleware
        if any(getattr(mw, "protects_against_csrf", False) for mw in app_wide):
            return
        # Sessions on a mount load no session for routes outside it: those need no token,
        # and counting them left allow_no_csrf, which drops the check for the mount too,
        # as the only way to build.
        everywhere = any(mw is self for mw in app_wide)
        bare = sorted(
            f"{method} {path}"
            for path, method, chain in app.route_middleware()
            if method in UNSAFE_METHODS
            and (everywhere or any(mw is self for mw in chain))
            and not any(getattr(mw, "protects_against_csrf", False) for mw in chain)
        )
        if bare:
            raise ConfigError(
                "cookie sessions with unsafe routes need CSRF protection (CSRFProtect), "
                f"or allow_no_csrf=True; unprotected: {', '.join(bare)}"
            )

    def _now(self) -> int:
        return int(self.config.clock())

    def _new_id(self) -> str:
        return random_session_id(self.config.random_bytes)

    def load(self, request: Request) -> tuple[Session, Verified | None]:
        """The request's session (a fresh one when the cookie is absent, not authentic or
        sent more than once)."""
        name = self.name
        raw = request.cookies.get(name)
        # A second cookie of this name was planted or forged (a browser holds one
        # ``__Host-`` cookie of a name; for other names a sibling subdomain can add one
        # that is sent first), and runtimes differ on which counts (the first, the last
        # line, or none once gunicorn joins the lines with a comma): neither does.
        if (
            raw is not None
            and len(name) + 1 + len(raw) <= self.config.max_bytes
            and not request.cookie_repeated(name)
        ):
            try:
                return self._decode(raw)
            except BadSignature:
                pass
        return Session.fresh(self._new_id, self._now), None

    def _decode(self, raw: str) -> tuple[Session, Verified]:
        now = self.config.clock()
        verified = self._signer.verify(raw, now=now, max_age=self.config.idle_timeout)
        try:
            body = parse_json(verified.payload)
        except UnsafeJSON:
            raise BadSignature() from None
        if not isinstance(body, dict):
            raise BadSignature()
        sid, created, data = body.get("i"), body.get("c"), body.get("d")
        if not isinstance(sid, str) or not isinstance(created, int) or not isinstance(data, dict):
            raise BadSignature()
        # Only an identity ``random_session_id`` could have drawn (URL-safe base64): CSRF
        # tokens bind its ASCII bytes, so a signed "\u00e9" answered every form page 500.
        if not (sid.isascii() and sid.encode().translate(BASE64URL).isalnum()):
            raise BadSignature()
        if created > now + self._signer.max_clock_skew or now - created > self.config.max_age:
            raise BadSignature()
        session = Session(data, session_id=sid, created=created, new_id=self._new_id, now=self._now)
        session.pinned = not data
        return session, verified

    def encode(self, session: Session) -> str:
        """The signed cookie value for ``session``; SessionTooLarge past ``max_bytes``."""
        data: JSON = session.data()
        body: JSON = {"i": session.id, "c": session.created, "d": data}
        value = self._signer.sign(dumps(body), now=self.config.clock())
        size = len(self.name) + 1 + len(value)
        if size > self.config.max_bytes:
            raise SessionTooLarge(
                f"the session cookie would be {size} bytes; one cookie holds at most "
                f"{self.config.max_bytes}: keep less in the session"
            )
        return value

    def before(self, request: Request) -> None:
        if self.name in request.cookies:
            loaded = self.load(request)
            request.session = loaded[0]
            request.state[self._loaded] = loaded
        else:
            # Most requests carry no session cookie: their fresh session is made only if
            # something reads it.
            request.make_session_with(self._maker)

    def _fresh(self, request: Request) -> Session:
        session = Session.fresh(self._new_id, self._now)
        request.state[self._loaded] = (session, None)
        return session

    def after(self, request: Request, response: Response) -> Response:
        loaded = request.state.pop(self._loaded, None)
        if loaded is None and request._session is None and request._session_maker is self._maker:
            # No cookie came and nothing made the session: there is nothing to write.
            return response
        if not isinstance(loaded, tuple) or request._session is not loaded[0]:
            raise RuntimeError("request.session was replaced; mutate it instead")
        self.save(request, response, *loaded)
        return response

    def save(
        self, request: Request, response: Response, session: Session, verified: Verified | None
    ) -> None:
        """Write, refresh, re-sign or delete the cookie as the session's state demands
        (on a 5xx answer, delete only: a failed request signs nobody in)."""
        if request.state.get(CSRF_TOKEN_ISSUED):
            # The body carries a token bound to this session, whatever the route said: a
            # shared cache keeping a page of ``public, max-age`` handed it to every
            # visitor, who could then forge that user's requests.
            _not_shared(response)
        elif verified is not None and "cache-control" not in response.headers:
            # Answered to a signed-in client and maybe for it alone (``/me``): a shared
            # cache, which a cookie does not keep from storing it, must not hand it to
            # others. A route that chose its own caching (a static file) keeps it.
            response.headers.add_lowered("cache-control", "no-store")
        had_cookie = self.name in request.cookies
        keep = len(session) > 0 or session.pinned
        if not keep:
            # Not a cookie sent twice: the deletion, host-only, would remove the client's
            # own and keep one a sibling subdomain planted with Domain=, which would then
            # be the only one, and verify: the client signed in as whoever planted it.
            if (
                had_cookie
                and (session.modified or verified is None)
                and not request.cookie_repeated(self.name)
            ):
                self._delete(response)
            return
        status = response.status
        if isinstance(status, int) and status >= 500:
            # The request failed: what its code stored before failing (a login that
            # regenerated the session, then failed to record the sign-in) is not sent.
            # Written anyway, the 500 signed the client in. A clear still goes out, even
            # when something was stored after it (a message, a CSRF token for the next
            # sign-in): kept, the cookie left the client signed in after a failed logout.
            if session.cleared and had_cookie and not request.cookie_repeated(self.name):
                self._delete(response)
            return
        now = self.config.clock()
        stale = verified is not None and now - verified.timestamp >= self._refresh_after
        rotated = verified is not None and verified.needs_resign
        if session.modified or stale or rotated or verified is None:
            self._write(response, self.encode(session), session)

    def _write(self, response: Response, value: str, session: Session) -> None:
        remaining = session.created + self.config.max_age - int(self.config.clock())
        response.headers.add_lowered(
            "set-cookie",
            format_set_cookie(
                self.name,
                value,
                max_age=max(remaining, 0),
                secure=not self.config.insecure_http_cookies,
                same_site=self.config.same_site,
            ),
        )
        _not_shared(response)

    def _delete(self, response: Response) -> None:
        response.headers.add_lowered(
            "set-cookie",
            format_set_cookie(
                self.name,
                "",
                max_age=0,
                expires=0,
                secure=not self.config.insecure_http_cookies,
                same_site=self.config.same_site,
            ),
        )
        _not_shared(response)


def _not_shared(response: Response) -> None:
    # A response that sets the session cookie is for its one client only, whatever the
    # route said: a static file's ``public, max-age`` would let a shared cache hand the
    # re-signed or refreshed cookie, the session, to everyone who asks for the file.
    response.headers.put_lowered("cache-control", "no-store")
