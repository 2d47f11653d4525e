"""Rate limiting middleware: 429 problem+json with ``Retry-After``, and the IETF
``RateLimit-Policy`` / ``RateLimit`` fields on every response of a limited route.

>>> from daloy_edge import App
>>> app = App()
>>> limit = RateLimit(RateLimitConfig(limit=5, window=60))
>>> @app.get("/limited", middleware=[limit])
... async def limited(request): return {"ok": True}

Attach it to a route (or a mount) for a per-route budget, or ``app.use`` it for an
app-wide one. The fields follow draft-ietf-httpapi-ratelimit-headers (structured
fields): ``RateLimit-Policy: "default";q=5;w=60`` and ``RateLimit: "default";r=4;t=60``.
"""

from __future__ import annotations

import time
from _collections_abc import Mapping  # collections.abc would import collections

from daloy_edge._errors import ConfigError, ServiceUnavailable, TooManyRequests
from daloy_edge._record import record
from daloy_edge.ratelimit._base import StoreUnavailable
from daloy_edge.ratelimit.limiter import RateLimiter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Literal, TypeAlias

    from daloy_edge._app import App
    from daloy_edge._headers import Headers
    from daloy_edge._request import Request
    from daloy_edge._response import Response
    from daloy_edge.ratelimit import AlgorithmName, Decision, FailurePolicy, RateLimitStore
    from daloy_edge.types import CallNext, Clock, Middleware

    KeyName: TypeAlias = Literal["ip", "principal", "api_key"]
    KeyFunction: TypeAlias = Callable[[Request], "str | None"]
    _Limits: TypeAlias = tuple[
        list[Sequence[Middleware]], dict[int, list[int]], dict[str, list["RateLimit"]]
    ]
    """Returns the identity to count the request against, or None to leave it unlimited."""

__all__ = ["KeyFunction", "KeyName", "RateLimit", "RateLimitConfig"]


def __getattr__(name: str) -> object:
    # The type aliases are built (importing ``typing``) only for those who ask for them.
    if name == "KeyName":
        from typing import Literal

        return Literal["ip", "principal", "api_key"]
    if name == "KeyFunction":
        from collections.abc import Callable

        from daloy_edge._request import Request

        return Callable[[Request], "str | None"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


@record(frozen=True, kw_only=True)
class RateLimitConfig:
    """One rate-limit policy: ``limit`` requests per ``window`` seconds per key.

    ``key``: ``"ip"`` (``request.client_ip``, i.e. after trusted-proxy resolution;
    IPv6 clients are grouped by their ``/ipv6_prefix`` network, since one subscriber
    holds a whole /64), ``"principal"`` (the authenticated subject, else the IP),
    ``"api_key"`` (the ``api_key_header`` value, else the IP) or a function.

    Security: ``"api_key"`` counts per presented key whether or not it is valid; put
    this middleware after the one that authenticates the key, or any caller can mint a
    fresh quota per made-up key. ``store=None`` counts per process (memory); share an
    :class:`~daloy_edge.ratelimit.UpstashStore` when several instances serve the app.
    """

    limit: int
    window: float
    name: str = "default"
    algorithm: AlgorithmName = "sliding_window"
    key: KeyName | KeyFunction = "ip"
    api_key_header: str = "x-api-key"
    ipv6_prefix: int = 64
    store: RateLimitStore | None = None
    on_store_error: FailurePolicy = "fail_closed"
    cost: int = 1
    block_cache_size: int = 10_000
    clock: Clock = time.time

    def __post_init__(self) -> None:
        if not callable(self.key) and self.key not in ("ip", "principal", "api_key"):
            raise ConfigError("key must be 'ip', 'principal', 'api_key' or a function")
        header = self.api_key_header.lower()
        if not header or not set(header) <= _TOKEN_CHARS:
            raise ConfigError("api_key_header must be a header field name")
        if not 32 <= self.ipv6_prefix <= 128:
            raise ConfigError("ipv6_prefix must be between 32 and 128")
        self.limiter()

    def limiter(self) -> RateLimiter:
        """A new :class:`RateLimiter` for this policy (validates it)."""
        return RateLimiter(
            limit=self.limit,
            window=self.window,
            algorithm=self.algorithm,
            store=self.store,
            name=self.name,
            cost=self.cost,
            on_store_error=self.on_store_error,
            block_cache_size=self.block_cache_size,
            clock=self.clock,
        )


class RateLimit:
    """Counts each request against its key's quota; 429 once it is spent.

    Allowed and denied responses both carry ``RateLimit-Policy`` and ``RateLimit``;
    a denial carries ``Retry-After``. When the store fails, ``fail_closed`` answers 503
    and ``fail_open`` lets the request through without a ``RateLimit`` field.

    Security: an allowed answer is one client's, so it is ``Cache-Control: no-store``
    unless the route set its own Cache-Control.
    """

    __slots__ = ("_by_principal", "_key", "_limiter", "_name", "_policy", "reads_client_ip")

    def __init__(self, config: RateLimitConfig) -> None:
        self._limiter = config.limiter()
        self._key = _key_function(config)
        self._by_principal = config.key == "principal"
        # Every named key falls back to the address (read by TrustedProxies, which must
        # run first); a key function of the app's own reads what it reads.
        self.reads_client_ip = isinstance(config.key, str)
        self._name = config.name
        self._policy = f'"{config.name}";q={config.limit};w={-(-self._limiter.window_ms // 1000)}'

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        identity = self._key(request)
        if identity is None:
            return await call_next(request)
        try:
            decision = await self._limiter.check(identity)
        except StoreUnavailable:
            raise ServiceUnavailable(
                "rate limiting is temporarily unavailable",
                slug="rate-limit-unavailable",
                headers={"retry-after": "1"},
            ) from None
        if not decision.allowed:
            raise TooManyRequests("rate limit exceeded", headers=self._denied_headers(decision))
        response = await call_next(request)
        headers = response.headers
        _append(headers, "ratelimit-policy", self._policy)
        if not decision.degraded:
            _append(headers, "ratelimit", self._state(decision))
        if "cache-control" not in headers:
            # Counted for one client and stating its quota: a shared cache keeping it (a
            # CDN's default TTL for an answer without Cache-Control) served one client's
            # RateLimit to all, and answered them without counting. A route that chose
            # its own caching keeps it.
            headers.add_lowered("cache-control", "no-store")
        return response

    def check_app(self, app: App) -> None:
        """Refuse another rate limit of this ``name`` on a request's chain (a client could
        not tell the two apart in ``RateLimit``), or of another quota counting in the same
        store (both would count every request in one key: each spent the other's quota)."""
        chains, on, named = _limits_of(app)
        twins = [mw for mw in named.get(self._name, ()) if mw is not self]
        for chain in (chains[number] for number in on.get(id(self), ())):
            if any(mw in chain for mw in twins):
                raise ConfigError(
                    f"two rate limits named {self._name!r} run on one request; give each"
                    " policy its own name (RateLimitConfig(name=...))"
                )
            if self._by_principal:
                _refuse_before_authentication(self, chain)
        mine = self._limiter
        for other in twins:
            theirs = other._limiter
            shared = theirs._store is mine._store and theirs._prefix == mine._prefix
            if shared and theirs._quota != mine._quota:
                raise ConfigError(
                    f"two rate limits named {self._name!r} with different quotas count"
                    " in one store, in the same keys; give each policy its own name"
                )

    def _state(self, decision: Decision) -> str:
        return f'"{self._name}";r={decision.remaining};t={decision.reset_s}'

    def _denied_headers(self, decision: Decision) -> dict[str, str]:
        # The draft has RateLimit's reset name the moment Retry-After does. The store's
        # reset is when the window ends, which for the sliding window and GCRA comes later
        # than the retry, and an instance answering from its block cache knows only the retry.
        retry = max(1, decision.retry_after_s)
        return {
            "retry-after": str(retry),
            "ratelimit-policy": self._policy,
            "ratelimit": f'"{self._name}";r={decision.remaining};t={retry}',
        }


_indexed: dict[int, tuple[object, _Limits]] = {}


def _limits_of(app: App) -> _Limits:
    """Every chain a request of ``app`` can take (app-wide middleware first), the numbers
    of the chains each rate limit is on, and the rate limits by name. Made once for
    the listing the build checks share, not again for each rate limit's check."""
    listed = app.route_middleware()
    kept = _indexed.get(id(app))
    if kept is not None and kept[0] is listed:
        return kept[1]
    app_wide = app._middleware
    chains: list[Sequence[Middleware]] = [app_wide, *([*app_wide, *mw] for _, _, mw in listed)]
    on: dict[int, list[int]] = {}
    named: dict[str, list[RateLimit]] = {}
    for number, chain in enumerate(chains):
        for mw in chain:
            if isinstance(mw, RateLimit):
                numbers = on.setdefault(id(mw), [])
                if not numbers:
                    named.setdefault(mw._name, []).append(mw)
                if not numbers or numbers[-1] != number:
                    numbers.append(number)
    # One entry: the build checks of one app run one after another, and the listing
    # kept here keeps the app's middleware alive only until the next app is checked.
    _indexed.clear()
    _indexed[id(app)] = (listed, (chains, on, named))
    return chains, on, named


def _refuse_before_authentication(limit: RateLimit, chain: Sequence[Middleware]) -> None:
    """Refuse ``key="principal"`` ahead of the authentication that sets the principal:
    it would count every request by IP, so anonymous requests from a user's network spent
    the user's quota."""
    if not any(mw is limit for mw in chain):
        return
    where = next(i for i, mw in enumerate(chain) if mw is limit)
    sets = [getattr(mw, "sets_principal", False) for mw in chain]
    if any(sets[where + 1 :]) and not any(sets[:where]):
        raise ConfigError(
            f"the rate limit {limit._name!r} counts by principal but runs before the"
            " authentication that sets it, so it counts by IP; put it after"
        )


def _append(headers: Headers, name: str, item: str) -> None:
    # Several policies on one route form one structured-field list.
    existing = headers.get(name)
    if existing is None:
        headers.add_lowered(name, item)
    else:
        headers.put_lowered(name, f"{existing}, {item}")


def _key_function(config: RateLimitConfig) -> KeyFunction:
    if callable(config.key):
        return config.key
    by_ip = _ip_key(config.ipv6_prefix)
    if config.key == "ip":
        return by_ip
    if config.key == "principal":

        def by_principal(request: Request) -> str:
            subject = _subject(request.principal)
            return by_ip(request) if subject is None else "p:" + subject

        return by_principal
    header = config.api_key_header

    def by_api_key(request: Request) -> str:
        value = request.headers.get(header)
        return "k:" + value if value else by_ip(request)

    return by_api_key


_IPV6_NETWORKS = 4096
"""IPv6 addresses whose network each key function remembers."""


def _ipv6_network(address: str, ipv6_prefix: int) -> str:
    import ipaddress

    try:
        ip = ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return "ip:" + address
    if ip.ipv4_mapped is not None:
        return "ip:" + str(ip.ipv4_mapped)
    network = ipaddress.IPv6Network((ip, ipv6_prefix), strict=False)
    return "ip6:" + str(network)


def _ip_key(ipv6_prefix: int) -> Callable[[Request], str]:
    # Clients repeat, so each IPv6 address's key is remembered: in a plain dict rather
    # than ``functools.lru_cache`` (``functools`` is not loaded at a cold start), emptied
    # when full (dropping the oldest one at a time would rescan the deleted slots at the
    # dict's front).
    networks: dict[str, str] = {}

    def by_ip(request: Request) -> str:
        address = request.client_ip
        if not address:
            return "ip:unknown"
        if ":" not in address:
            return "ip:" + address
        key = networks.get(address)
        if key is None:
            if len(networks) >= _IPV6_NETWORKS:
                networks.clear()
            key = networks[address] = _ipv6_network(address, ipv6_prefix)
        return key

    return by_ip


def _subject(principal: object) -> str | None:
    if principal is None:
        return None
    if isinstance(principal, str):
        return principal or None
    # A ``Principal`` (what JWTAuth and BasicAuth set) names it ``subject``; a token
    # without a ``sub`` leaves it empty, and that counts by IP rather than in one shared key.
    subject = getattr(principal, "subject", None)
    if subject is None:
        subject = (
            principal.get("sub")
            if isinstance(principal, Mapping)
            else getattr(principal, "sub", None)
        )
    return None if subject is None or subject == "" else str(subject)
