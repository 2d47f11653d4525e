"""Client address resolution behind trusted proxies: sets ``request.client_ip``."""

from __future__ import annotations

from daloy_edge._chain import marked_before
from daloy_edge._errors import ConfigError
from daloy_edge._netaddr import (
    NetworkSet,
    canonical_ip,
    forwarded_for,
    forwarded_proto,
    resolve_client,
    x_forwarded_for,
    x_forwarded_proto,
)
from daloy_edge._phased import Phased
from daloy_edge._record import record
from daloy_edge._request import Request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge._app import App
    from daloy_edge._netaddr import ForwardingHeader
    from daloy_edge._response import Response


__all__ = ["TrustedProxies", "TrustedProxiesConfig"]


@record(frozen=True, kw_only=True)
class TrustedProxiesConfig:
    """Which peers' forwarding header is believed, and which header that is.

    ``proxies`` are CIDRs; empty means no proxy is trusted and forwarding headers are
    ignored. ``header`` is the one header your proxies append to (``x-forwarded-for`` or
    ``forwarded``); the other is never read, so a client cannot inject it past a proxy
    that only maintains the first. With ``x-forwarded-for`` the scheme is read from
    ``X-Forwarded-Proto``: have the proxy set it, replacing the client's.

    Security: a ``/0`` network is refused, since it would let anyone choose their address.
    """

    proxies: tuple[str, ...] = ()
    header: ForwardingHeader = "x-forwarded-for"
    max_hops: int = 16

    def __post_init__(self) -> None:
        if isinstance(self.proxies, str):
            raise ConfigError("proxies must be a tuple of CIDRs, not one string")
        if 0 in NetworkSet(self.proxies).prefixlens:
            raise ConfigError("trusting every address (/0) lets any client spoof its address")
        if self.header not in ("x-forwarded-for", "forwarded"):
            raise ConfigError("header must be 'x-forwarded-for' or 'forwarded'")
        if not self.max_hops > 0:  # NaN too: no chain would exceed it
            raise ConfigError("max_hops must be positive")


class TrustedProxies(Phased):
    """Set ``request.client_ip`` to the right-most forwarded address that is not a trusted
    proxy (IPv4-mapped IPv6 normalised; ``None`` when it cannot be known), and, for a
    request a trusted proxy passed on, ``request.scheme`` to the one that proxy reports
    (the right-most ``X-Forwarded-Proto`` entry with ``x-forwarded-for``, the right-most
    element's ``proto=`` with ``forwarded``; only ``http`` or ``https``): behind a
    proxy that ends TLS, the app otherwise took ``http://`` for its own origin.

    Run it first, before rate limiting, IP allow-lists and logging, which all read
    ``request.client_ip``, and before CSRF and compression, whose origin checks read
    ``request.scheme``.
    """

    __slots__ = (
        "_direct",
        "_forwarded",
        "_header",
        "_max_hops",
        "_reached",
        "_trusted",
        "config",
    )

    def __init__(self, config: TrustedProxiesConfig) -> None:
        self.config = config
        self._trusted = NetworkSet(config.proxies)
        # No proxy believed (the platform gives the peer, as on Lambda): the socket peer
        # is the client, whatever headers say.
        self._direct = not self._trusted
        self._header = config.header
        self._forwarded = config.header == "forwarded"
        self._max_hops = config.max_hops
        # Resolution reads max_hops hops at most, and one more tells it the chain is
        # longer: only these are parsed out of a Forwarded header.
        self._reached = config.max_hops + 1 if type(config.max_hops) is int else None

    def resolve(self, request: Request) -> str | None:
        """The client address for ``request``."""
        if self._direct:
            return canonical_ip(request.client)
        values = request.headers.get_all(self._header)
        hops = forwarded_for(values, self._reached) if self._forwarded else x_forwarded_for(values)
        return resolve_client(request.client, hops, self._trusted, max_hops=self._max_hops)

    def resolve_scheme(self, request: Request) -> str:
        """The scheme the client used for ``request``: the one the trusted proxy that
        passed it on reports (``http`` or ``https``), else the request's own."""
        if self._direct or request.client not in self._trusted:
            return request.scheme
        if self._forwarded:
            scheme = forwarded_proto(request.headers.get_all("forwarded"))
        else:
            scheme = x_forwarded_proto(request.headers.get_all("x-forwarded-proto"))
        return scheme or request.scheme

    def check_app(self, app: App) -> None:
        """Refuse an app where middleware that reads the client address runs before this
        resolves it: an IP allow-list behind a proxy on 127.0.0.1 let every client in.
        Likewise, with a proxy named, one that reads the scheme before it: a CSRF origin
        check refused a form posted from the HTTPS site and passed one from plain HTTP."""
        early = marked_before(app, self, "reads_client_ip")
        if early is not None:
            raise ConfigError(
                f"{type(early).__name__} reads the client address before TrustedProxies"
                " resolves it, so it sees the proxy's address; put TrustedProxies first"
            )
        # With no proxy named the scheme stays the server's, whatever the order.
        early = None if self._direct else marked_before(app, self, "reads_scheme")
        if early is not None:
            raise ConfigError(
                f"{type(early).__name__} reads the scheme before TrustedProxies resolves"
                " it, so behind a proxy ending TLS it compares origins with http://;"
                " put TrustedProxies first"
            )

    def on_rejected(self, request: Request, response: Response) -> None:
        """Resolve the client and scheme of a request the app refused before any middleware
        ran (its path or a header field): behind a proxy, every such attempt was logged as
        the proxy's. Behind one, not for a 431, whose fields are past the app's bounds,
        which the parse of a forwarding header then would not be."""
        if self._direct or response.status != 431:
            self.before(request)

    def before(self, request: Request) -> None:
        # The direct case without a call to ``resolve``: it runs on every request.
        if self._direct:
            request.client_ip = canonical_ip(request.client)
        else:
            request.client_ip = self.resolve(request)
            request.scheme = self.resolve_scheme(request)
