"""Scope checks on the authenticated principal (RFC 6750 ``insufficient_scope``)."""

from __future__ import annotations

from daloy_edge._chain import placed
from daloy_edge._errors import ConfigError, Forbidden, Unauthorized
from daloy_edge._phased import Phased
from daloy_edge._request import Request
from daloy_edge.principal import Principal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from daloy_edge._app import App


__all__ = ["RequireScopes", "requires"]

_FORBIDDEN_CHARS = frozenset(' "\\\t\r\n')


class RequireScopes(Phased):
    """Let the request through only when ``request.principal`` holds every scope.

    No principal: 401 ``WWW-Authenticate: Bearer``. Missing scope: 403 with
    ``WWW-Authenticate: Bearer error="insufficient_scope"``. Both challenges carry the
    ``realm`` of the :class:`~daloy_edge.middleware.jwt.JWTAuth` before it, when every
    route it guards, in every app it is placed in, has one and the same. Put it after the
    authentication middleware (per route, per mount, or with :func:`daloy_edge.use`).
    """

    __slots__ = ("_detail", "_forbidden", "_missing", "_realms", "_scopes")

    def __init__(self, scopes: Iterable[str]) -> None:
        wanted = tuple(scopes)
        if not wanted:
            raise ConfigError("requires() needs at least one scope")
        for scope in wanted:
            if not isinstance(scope, str) or not scope or _FORBIDDEN_CHARS.intersection(scope):
                raise ConfigError(f"invalid scope {scope!r}")
        self._scopes = frozenset(wanted)
        self._detail = "requires scope " + " ".join(sorted(self._scopes))
        # Of every app it is placed in: one object serves them all with one challenge.
        self._realms: set[str | None] = set()
        self._challenges(None)

    def _challenges(self, realm: str | None) -> None:
        named = "Bearer" if realm is None else f'Bearer realm="{realm}",'
        self._missing = {"www-authenticate": named.rstrip(",")}
        self._forbidden = {"www-authenticate": f'{named} error="insufficient_scope"'}

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes required."""
        return self._scopes

    def check_app(self, app: App) -> None:
        """Refuse an app where this runs before the authentication that sets the principal:
        every request, a token with the scopes included, would be refused (401). Takes the
        realm of the authentication each route runs before it (RFC 6750 3: one protection
        space, one realm), when they all have the same, in this app and any other it is in."""
        realms = self._realms
        for route, chain, where in placed(app, self):
            sets = [getattr(mw, "sets_principal", False) for mw in chain]
            if any(sets[where + 1 :]) and not any(sets[:where]):
                raise ConfigError(
                    f"{route}: the scope check runs before the authentication that"
                    " sets the principal, so every request would be refused (401); put it after"
                )
            auth = next(
                (mw for mw in reversed(chain[:where]) if getattr(mw, "sets_principal", False)), None
            )
            realms.add(getattr(auth, "bearer_realm", None))
        self._challenges(next(iter(realms)) if len(realms) == 1 else None)

    def before(self, request: Request) -> None:
        principal = request.principal
        if not isinstance(principal, Principal):
            raise Unauthorized("authentication required", headers=self._missing)
        if not self._scopes.issubset(principal.scopes):
            raise Forbidden(self._detail, slug="insufficient-scope", headers=self._forbidden)


def requires(*scopes: str) -> RequireScopes:
    """Middleware requiring every one of ``scopes``.

    >>> from daloy_edge import App, use
    >>> app = App()
    >>> @app.get("/reports", middleware=[requires("reports:read")])
    ... async def reports(request): return {"reports": []}
    >>> @app.post("/reports")
    ... @use(requires("reports:write"))
    ... async def create(request): return {"created": True}
    """
    return RequireScopes(scopes)
