"""Identity routes: bearer JWTs on ``/api``, IP allow-list plus basic auth on ``/admin``.

Environment (see CONTRACT.md): ``DALOY_JWKS_URL`` or ``DALOY_JWKS_FILE``,
``DALOY_JWT_ISSUER``, ``DALOY_JWT_AUDIENCE``, ``DALOY_ADMIN_USER``,
``DALOY_ADMIN_PASSWORDS``, ``DALOY_ADMIN_CIDRS``, ``DALOY_TRUSTED_PROXIES`` and, beyond
the contract, ``DALOY_FORWARDED_HEADER`` (``x-forwarded-for`` or ``forwarded``).
Anything missing leaves the area closed: ``/api/*`` and ``/admin/*`` answer 401.
"""

from __future__ import annotations

from daloy_edge import (
    App,
    ConfigError,
    KeyRing,
    Request,
    Response,
    Router,
    Unauthorized,
)
from daloy_edge.jose import ASYMMETRIC_ALGORITHMS, KeysUnavailable
from daloy_edge.middleware.basic_auth import BasicAuth, BasicAuthConfig
from daloy_edge.middleware.client_ip import TrustedProxies, TrustedProxiesConfig
from daloy_edge.middleware.ip_filter import IPFilter, IPFilterConfig
from daloy_edge.middleware.jwt import JWTAuth, JWTConfig
from daloy_edge.middleware.scopes import requires
from daloy_edge.principal import Principal
from examples.reference.variables import entries, naming

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from daloy_edge.jose import JWK, JWKSet, KeySource
    from daloy_edge.types import CallNext, Middleware

MAX_REPORT_BYTES = 64 * 1024
DEFAULT_ADMIN_CIDRS = "127.0.0.1/32,::1/128"
UNCONFIGURED = "urn:daloy-edge:unconfigured"
SAMPLE_REPORTS = [
    {"id": 1, "title": "Quarterly access review"},
    {"id": 2, "title": "Key rotation log"},
]


class _Closed:
    """Stands in for basic auth that is not configured: always 401 with the Basic challenge."""

    def __init__(self, realm: str = "admin") -> None:
        self._challenge = {"www-authenticate": f'Basic realm="{realm}", charset="UTF-8"'}

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        raise Unauthorized("valid credentials are required", headers=self._challenge)


class _NoKeys:
    """A key source without keys, for bearer auth that is not configured: JWTAuth then
    refuses every token, and tells a missing token from a refused one as it always does."""

    async def get_key(self, kid: str) -> JWK | None:
        return None


class RequestCounter:
    """Counts every request the app answered (an observer)."""

    def __init__(self) -> None:
        self.count = 0

    def on_response(
        self, request: Request, response: Response, duration_s: float, error: BaseException | None
    ) -> None:
        self.count += 1


class JWKSFile:
    """The keys of a JWKS file: read when the app is built (a missing file stops the boot),
    parsed when the first token needs a key.

    An unusable document makes every bearer request a 503 (``KeysUnavailable``) and says why.
    """

    def __init__(self, path: str) -> None:
        try:
            with open(path, "rb") as file:  # not pathlib: its imports cost a cold start
                self._document = file.read()
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            reason = getattr(exc, "strerror", None) or exc
            raise ConfigError(f"DALOY_JWKS_FILE: cannot read {path!r}: {reason}") from None
        self._keys: JWKSet | None = None

    def keys(self) -> JWKSet:
        """The parsed set (parsed once)."""
        if self._keys is None:
            from daloy_edge.jose import InvalidKey, JWKSet

            try:
                self._keys = JWKSet.parse(self._document)
            except InvalidKey as exc:
                raise KeysUnavailable(f"DALOY_JWKS_FILE: {exc}") from None
        return self._keys

    async def get_key(self, kid: str) -> JWK | None:
        """The key for ``kid`` (a :class:`~daloy_edge.jose.KeySource`)."""
        return self.keys().get(kid)


def _key_source(env: Mapping[str, str]) -> KeySource | None:
    url, path = env.get("DALOY_JWKS_URL", "").strip(), env.get("DALOY_JWKS_FILE", "")
    if url and path:
        raise ConfigError("set DALOY_JWKS_URL or DALOY_JWKS_FILE, not both")
    if path:
        return JWKSFile(path)
    if url:
        from daloy_edge.jose import JWKSClient

        with naming("DALOY_JWKS_URL"):
            return JWKSClient(url)
    return None


def bearer_auth(app: App, env: Mapping[str, str]) -> Middleware:
    """JWT authentication from the environment, or a closed door when unconfigured."""
    keys = _key_source(env)
    close = getattr(keys, "aclose", None)  # a JWKS URL's client: its pool closes with the app
    if close is not None:
        app.on_shutdown(close)
    # Read as the audiences are, without the line break a secrets file leaves behind.
    issuer, audience = env.get("DALOY_JWT_ISSUER", "").strip(), env.get("DALOY_JWT_AUDIENCE", "")
    audiences = entries(audience)
    if audience and not audiences:
        raise ConfigError(f"DALOY_JWT_AUDIENCE names no audience: {audience[:40]!r}")
    if keys is None or not issuer or not audiences:
        keys, issuer, audiences = _NoKeys(), UNCONFIGURED, (UNCONFIGURED,)
    with naming("DALOY_JWT_ISSUER", "DALOY_JWT_AUDIENCE"):
        config = JWTConfig(
            issuer=issuer,
            audience=audiences if len(audiences) > 1 else audiences[0],
            algorithms=tuple(sorted(ASYMMETRIC_ALGORITHMS)),
            keys=keys,
        )
    return JWTAuth(config)


def admin_guards(env: Mapping[str, str]) -> list[Middleware]:
    """The IP allow-list, then basic auth (or a closed door when no user is configured)."""
    value = env.get("DALOY_ADMIN_CIDRS") or DEFAULT_ADMIN_CIDRS
    cidrs = entries(value)
    if not cidrs:
        raise ConfigError(f"DALOY_ADMIN_CIDRS names no network: {value!r}")
    with naming("DALOY_ADMIN_CIDRS"):
        guards: list[Middleware] = [IPFilter(IPFilterConfig(allow=cidrs))]
    # Read as the passwords are, without the line break a secrets file leaves behind.
    user = env.get("DALOY_ADMIN_USER", "").strip()
    passwords = entries(env.get("DALOY_ADMIN_PASSWORDS"))
    if user and passwords:
        with naming("DALOY_ADMIN_PASSWORDS"):
            ring = KeyRing(passwords)
        with naming("DALOY_ADMIN_USER"):
            config = BasicAuthConfig(users={user: ring}, realm="admin")
        guards.append(BasicAuth(config))
    else:
        guards.append(_Closed())
    return guards


def _api_routes() -> Router:
    api = Router()

    @api.get("/me")
    async def me(request: Request) -> Response:
        principal = request.principal
        assert isinstance(principal, Principal)
        return Response.json({"sub": principal.subject, "scopes": sorted(principal.scopes)})

    @api.get("/reports", middleware=[requires("reports:read")])
    async def list_reports(request: Request) -> Response:
        return Response.json({"reports": SAMPLE_REPORTS})

    @api.post("/reports", middleware=[requires("reports:write")], max_body=MAX_REPORT_BYTES)
    async def create_report(request: Request) -> Response:
        return Response.json({"created": await request.json()}, status=201)

    return api


def install(app: App, env: Mapping[str, str]) -> None:
    """Add ``/api`` and ``/admin`` to ``app`` and the client-address resolver app-wide.

    The resolver must run before anything that reads ``request.client_ip`` (rate
    limiting, logging), so install this area first among those that add middleware.
    """
    header = env.get("DALOY_FORWARDED_HEADER", "") or "x-forwarded-for"
    if header not in ("x-forwarded-for", "forwarded"):
        raise ConfigError(
            f"DALOY_FORWARDED_HEADER must be x-forwarded-for or forwarded, not {header[:40]!r}"
        )
    with naming("DALOY_TRUSTED_PROXIES"):
        proxies = TrustedProxiesConfig(
            proxies=entries(env.get("DALOY_TRUSTED_PROXIES")),
            header=header,  # type: ignore[arg-type]
        )
    app.use(TrustedProxies(proxies))
    counter = RequestCounter()
    app.observe(counter)

    app.mount("/api", _api_routes(), middleware=[bearer_auth(app, env)])

    admin = Router()

    @admin.get("/stats")
    async def stats(request: Request) -> Response:
        # This request is answered too, though the counter sees it only once it is sent:
        # without it, the first request to a fresh instance would read 0.
        return Response.json({"requests": counter.count + 1})

    app.mount("/admin", admin, middleware=admin_guards(env))
