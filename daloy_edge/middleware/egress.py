"""Egress for handlers: the guarded client, built once and handed to every request."""

from __future__ import annotations

from daloy_edge._errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Sequence

    from daloy_edge._request import Request
    from daloy_edge._response import Response
    from daloy_edge.egress._client import EgressClient
    from daloy_edge.egress._limits import FetchLimits
    from daloy_edge.egress._resolver import Resolver
    from daloy_edge.transport import HTTPTransport
    from daloy_edge.types import CallNext

__all__ = ["STATE_KEY", "FetchGuard", "egress_client", "fetch_guard"]

STATE_KEY = "egress"
"""Where :class:`FetchGuard` puts the client in ``request.state``."""


class FetchGuard:
    """Middleware that gives each request the guarded client (``egress_client(request)``).

    The client is shared: no per-request state, no cookies kept, pooled connections only to
    vetted addresses. Use ``guard.client`` directly outside handlers.
    """

    __slots__ = ("_build", "_client")

    def __init__(self, client: EgressClient) -> None:
        self._client: EgressClient | None = client
        self._build: Callable[[], EgressClient] = lambda: client

    @classmethod
    def deferred(cls, build: Callable[[], EgressClient]) -> FetchGuard:
        """A guard whose client ``build()`` makes on first use (only for arguments already
        known to be valid: building must not be where a configuration error shows)."""
        guard = cls.__new__(cls)
        guard._client = None
        guard._build = build
        return guard

    @property
    def client(self) -> EgressClient:
        """The guarded client (built now if it was deferred)."""
        client = self._client
        if client is None:
            client = self._client = self._build()
        return client

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        request.state[STATE_KEY] = self._client or self.client
        return await call_next(request)

    async def aclose(self) -> None:
        """Release the client's pooled connections (an ``on_shutdown`` hook)."""
        if self._client is not None:
            await self._client.aclose()


def fetch_guard(
    *,
    allow_hosts: Sequence[str] = (),
    allow_cidrs: Sequence[str] = (),
    schemes: Sequence[str] = ("https", "http"),
    ports: Sequence[int] | None = (80, 443),
    limits: FetchLimits | None = None,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
    policy_only_transport: HTTPTransport | None = None,
) -> FetchGuard:
    """Build the egress guard: a middleware, and ``.client`` for use outside handlers.

    >>> from daloy_edge import App
    >>> app = App()
    >>> guard = fetch_guard(allow_hosts=["api.example.com", "*.example.org"])
    >>> app.use(guard)
    >>> @app.get("/preview")
    ... async def preview(request):
    ...     page = await egress_client(request).get(request.query.get("url", ""))
    ...     return {"status": page.status}

    See :class:`~daloy_edge.egress.EgressPolicy` for the policy options and
    :class:`~daloy_edge.egress.FetchLimits` for the bounds. ``policy_only_transport`` is for
    runtimes without DNS (Cloudflare Workers' ``fetch``): it selects
    :class:`~daloy_edge.egress.PolicyOnlyClient`, which cannot vet what names resolve to.
    """
    for value in (allow_hosts, allow_cidrs, schemes):
        if isinstance(value, str):
            raise ConfigError("allow_hosts, allow_cidrs and schemes take sequences of strings")
    hosts, cidrs, scheme_list = tuple(allow_hosts), tuple(allow_cidrs), tuple(schemes)
    port_list = None if ports is None else tuple(ports)

    def build() -> EgressClient:
        from daloy_edge.egress._client import GuardedClient, PolicyOnlyClient
        from daloy_edge.egress._policy import EgressPolicy

        policy = EgressPolicy(
            allow_hosts=hosts, allow_cidrs=cidrs, schemes=scheme_list, ports=port_list
        )
        if policy_only_transport is not None:
            return PolicyOnlyClient(policy_only_transport, policy, limits=limits)
        return GuardedClient(policy, limits=limits, resolver=resolver, ssl_context=ssl_context)

    # The policy and client (address tables, URL parsing, the event loop) are built on the
    # first request, unless there is configuration to check: then now, so it fails at boot.
    if hosts or cidrs or scheme_list != _DEFAULT_SCHEMES or port_list not in (None, (80, 443)):
        return FetchGuard(build())
    return FetchGuard.deferred(build)


_DEFAULT_SCHEMES = ("https", "http")


def egress_client(request: Request) -> EgressClient:
    """The guarded client :class:`FetchGuard` attached to ``request``.

    Raises ``LookupError`` when no guard runs for this route: outbound requests with
    user-supplied URLs must never silently fall back to an unguarded client.
    """
    from daloy_edge.egress._client import EgressClient

    client = request.state.get(STATE_KEY)
    if not isinstance(client, EgressClient):
        raise LookupError("no fetch guard: add app.use(fetch_guard(...)) first")
    return client
