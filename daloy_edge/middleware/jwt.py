"""Bearer JWT authentication (RFC 6750) over :mod:`daloy_edge.jose`."""

from __future__ import annotations

import time

from daloy_edge._charset import Charset, span
from daloy_edge._errors import ConfigError, ServiceUnavailable, Unauthorized
from daloy_edge._phased import Phased
from daloy_edge._record import record
from daloy_edge._request import Request
from daloy_edge.jose._algorithms import check_algorithms
from daloy_edge.jose._claims import ClaimsPolicy
from daloy_edge.jose._errors import InvalidToken, KeysUnavailable
from daloy_edge.middleware._credentials import MalformedCredentials, credentials_for
from daloy_edge.principal import Principal, scopes_from_claims

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Mapping

    from daloy_edge.jose import JWTVerifier, KeySource, SignatureBackend
    from daloy_edge.types import JSON, Clock


__all__ = ["JWTAuth", "JWTConfig"]

# Printable ASCII without '"' and '\\' (the realm is sent in a quoted string, where "\\"
# escapes the character after it: RFC 9110, 5.6.4).
_REALM = Charset(span(" ", "~").replace('"', "").replace("\\", ""), max_len=64)


@record(frozen=True, kw_only=True)
class JWTConfig:
    """How bearer tokens are verified. ``issuer``, ``audience``, ``algorithms`` and ``keys``
    have no safe default and are required.

    ``keys`` is a :class:`~daloy_edge.jose.JWKSet` (static) or a
    :class:`~daloy_edge.jose.JWKSClient` (a JWKS URL). ``algorithms`` is the ``alg``
    allow-list; HS* also needs ``allow_symmetric=True`` and HMAC keys from
    :meth:`~daloy_edge.jose.JWKSet.symmetric`. ``required_claims`` must be present
    (``exp`` always is). ``typ`` lists the accepted ``typ`` headers; ``None`` accepts a
    token without one or typed ``JWT``, ``JOSE`` or ``at+jwt``. ``allow_anonymous`` lets requests
    without any token through with ``request.principal`` left ``None`` (a token that is
    sent must still be valid).

    Security: ``leeway_s`` bounds clock skew (at most 300 s); ``max_lifetime_s`` refuses
    long-lived tokens, which are hard to revoke.
    """

    issuer: str
    audience: str | tuple[str, ...]
    algorithms: tuple[str, ...]
    keys: KeySource
    allow_symmetric: bool = False
    leeway_s: float = 30.0
    max_lifetime_s: float | None = 86400.0
    required_claims: tuple[str, ...] = ("sub",)
    typ: tuple[str, ...] | None = None
    max_token_bytes: int = 8192
    realm: str | None = None
    allow_anonymous: bool = False
    backend: SignatureBackend | None = None
    clock: Clock = time.time

    def __post_init__(self) -> None:
        check_algorithms(self.algorithms, allow_symmetric=self.allow_symmetric)
        self.policy()
        if self.keys is None:
            raise ConfigError("keys is required (a JWKSet or a JWKSClient)")
        if self.realm is not None and not _REALM.fullmatch(self.realm):
            raise ConfigError(
                "realm must be 1-64 printable characters without quotes or backslashes"
            )
        if not self.max_token_bytes > 0:  # NaN too: no token would exceed it
            raise ConfigError("max_token_bytes must be positive")
        if isinstance(self.typ, str):
            # Each of its characters would be an accepted ``typ``, and the value itself not.
            raise ConfigError("typ must be a collection of values, not one string")

    def policy(self) -> ClaimsPolicy:
        """The claims policy this configuration describes."""
        return ClaimsPolicy(
            issuer=self.issuer,
            audience=self.audience,
            leeway_s=self.leeway_s,
            max_lifetime_s=self.max_lifetime_s,
            required=self.required_claims,
        )


def _challenge(realm: str | None, error: str | None) -> str:
    params = []
    if realm is not None:
        params.append(f'realm="{realm}"')
    if error is not None:
        params.append(f'error="{error}"')
    return "Bearer " + ", ".join(params) if params else "Bearer"


def _scopes(claims: Mapping[str, JSON]) -> frozenset[str]:
    try:
        return scopes_from_claims(claims)
    except ValueError as exc:
        raise InvalidToken(str(exc)) from None


class JWTAuth(Phased):
    """Require a valid ``Authorization: Bearer`` JWT; sets ``request.principal``.

    Answers 401 with ``WWW-Authenticate: Bearer`` when no token was sent, and with
    ``error="invalid_token"`` when one was sent but refused (the reason goes to
    ``request.state["error"]`` for the logs, never to the client). 503 when no keys can
    be obtained. Adds an ``auth`` entry to ``request.timings``.

    >>> from daloy_edge.jose import JWKSClient
    >>> auth = JWTAuth(JWTConfig(issuer="https://idp.example", audience="api",
    ...     algorithms=("RS256",),
    ...     keys=JWKSClient("https://idp.example/.well-known/jwks.json")))
    """

    sets_principal = True  # read by rate limits keyed by principal
    __slots__ = ("_anonymous", "_config", "_missing", "_refused", "_verifier")

    def __init__(self, config: JWTConfig) -> None:
        # The configuration is checked now (JWTConfig did); the verifier, and with it the
        # JWS, JWK and backend modules, is built for the first request that carries a token.
        self._config = config
        self._verifier: JWTVerifier | None = None
        self._anonymous = config.allow_anonymous
        self._missing = {"www-authenticate": _challenge(config.realm, None)}
        self._refused = {"www-authenticate": _challenge(config.realm, "invalid_token")}

    @property
    def bearer_realm(self) -> str | None:
        """The ``realm`` of its challenges; read by :func:`~daloy_edge.middleware.scopes.requires`
        at build, so that a 403 names the realm the 401 did."""
        return self._config.realm

    @property
    def refuses_anonymous(self) -> bool:
        """True unless ``allow_anonymous``; read by CORS, whose preflights carry no token."""
        return not self._anonymous

    def before(self, request: Request) -> Awaitable[None]:
        return self._authenticate(request)

    def _build_verifier(self) -> JWTVerifier:
        from daloy_edge.jose._verifier import JWTVerifier

        config = self._config
        self._verifier = verifier = JWTVerifier(
            keys=config.keys,
            algorithms=config.algorithms,
            policy=config.policy(),
            backend=config.backend,
            clock=config.clock,
            max_token_bytes=config.max_token_bytes,
            allow_symmetric=config.allow_symmetric,
            typ=config.typ,
        )
        return verifier

    async def _authenticate(self, request: Request) -> None:
        """Set ``request.principal`` (None for an allowed anonymous request), timed as the
        ``auth`` Server-Timing phase; 401 or 503 otherwise. One coroutine: this runs on
        every request of a protected route."""
        start = time.perf_counter()
        try:
            token = credentials_for(request, "bearer")
            if token is None:
                if self._anonymous:
                    request.principal = None
                    return
                raise Unauthorized("a bearer token is required", headers=self._missing)
            verifier = self._verifier or self._build_verifier()
            _, claims = await verifier._verified(token)
            scopes = _scopes(claims)
        except (InvalidToken, MalformedCredentials) as exc:
            request.state["error"] = exc
            raise Unauthorized(
                "the bearer token was not accepted", slug="invalid-token", headers=self._refused
            ) from None
        except KeysUnavailable as exc:
            request.state["error"] = exc
            raise ServiceUnavailable(
                "token keys are unavailable", headers={"retry-after": "30"}
            ) from None
        finally:
            request.timings.append(("auth", time.perf_counter() - start))
        subject = claims.get("sub")
        request.principal = Principal(
            subject if isinstance(subject, str) else "", scopes, claims, "bearer"
        )
