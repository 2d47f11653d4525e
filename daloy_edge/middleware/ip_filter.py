"""IP allow and deny lists (IPv4 and IPv6 CIDRs) on ``request.client_ip``."""

from __future__ import annotations

from daloy_edge._errors import ConfigError, Forbidden
from daloy_edge._netaddr import NetworkSet, parse_ip
from daloy_edge._record import record
from daloy_edge._request import Request
from daloy_edge._response import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge.types import CallNext


__all__ = ["IPFilter", "IPFilterConfig"]


@record(frozen=True, kw_only=True)
class IPFilterConfig:
    """``deny`` wins over ``allow``; with a non-empty ``allow`` everything else is refused."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.allow, str) or isinstance(self.deny, str):
            raise ConfigError("allow and deny are tuples of CIDRs, not strings")
        if not self.allow and not self.deny:
            raise ConfigError("an IP filter needs an allow or a deny list")
        NetworkSet(self.allow)
        NetworkSet(self.deny)


class IPFilter:
    """403 unless ``request.client_ip`` passes the lists; an unknown address never passes.

    Reads ``request.client_ip``, so put :class:`~daloy_edge.middleware.client_ip.TrustedProxies`
    in front of it when the app sits behind a proxy.

    Security: with an ``allow`` list, what passes is for the listed networks only, so it is
    ``Cache-Control: no-store`` unless the route set its own Cache-Control.
    """

    reads_client_ip = True  # read by TrustedProxies, which must run first
    __slots__ = ("_allow", "_deny")

    def __init__(self, config: IPFilterConfig) -> None:
        self._allow = NetworkSet(config.allow)
        self._deny = NetworkSet(config.deny)

    def allows(self, address: str | None) -> bool:
        """True when ``address`` may pass."""
        parsed = parse_ip(address)
        if parsed is None or parsed in self._deny:
            return False
        return not self._allow or parsed in self._allow

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        if not self.allows(request.client_ip):
            raise Forbidden("client address not allowed", slug="ip-not-allowed")
        response = await call_next(request)
        if self._allow and "cache-control" not in response.headers:
            # A shared cache in front (a CDN's default TTL for an answer without
            # Cache-Control) answered every address from the copy an allowed one got.
            response.headers.add_lowered("cache-control", "no-store")
        return response
