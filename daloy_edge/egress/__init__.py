"""Egress: an SSRF-safe outbound client for URLs that users supply.

>>> from daloy_edge import App
>>> from daloy_edge.egress import egress_client, fetch_guard
>>> app = App()
>>> app.use(fetch_guard(allow_hosts=["*.example.com"]))

- :class:`EgressPolicy` (pure): strict URL parsing, scheme/port/host allow-lists, and the
  deny-list of every special-purpose address block, IPv4 embedded in IPv6 included.
- :class:`GuardedClient` (CPython, httpx imported on first use): resolves names itself,
  vets every address, connects only to a vetted one, follows redirects itself.
- :class:`PolicyOnlyClient` (Cloudflare Workers): the same checks on URLs and names over any
  :class:`~daloy_edge.transport.HTTPTransport`; it cannot see what a name resolves to.
- :func:`fetch_guard`: middleware handing handlers the client via :func:`egress_client`.

Denials raise :class:`EgressDenied` (403 ``egress-denied``); failures :class:`EgressFailed`
(502 ``egress-failed``) and :class:`EgressTimeout` (504 ``egress-timeout``).
"""

from __future__ import annotations

from daloy_edge._errors import GatewayTimeout, HTTPError, register_problem
from daloy_edge._lazy import lazy_exports
from daloy_edge.egress._errors import EgressDenied, EgressFailed, EgressTimeout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge.egress._addresses import METADATA_ADDRESSES
    from daloy_edge.egress._client import (
        EgressClient,
        EgressResponse,
        GuardedClient,
        PolicyOnlyClient,
    )
    from daloy_edge.egress._httpx import GuardedTransport
    from daloy_edge.egress._limits import FetchLimits
    from daloy_edge.egress._policy import METADATA_HOSTS, SPECIAL_USE_DOMAINS, EgressPolicy
    from daloy_edge.egress._resolver import Resolver, SystemResolver
    from daloy_edge.egress._url import Target
    from daloy_edge.middleware.egress import FetchGuard, egress_client, fetch_guard

__all__ = [
    "METADATA_ADDRESSES",
    "METADATA_HOSTS",
    "SPECIAL_USE_DOMAINS",
    "EgressClient",
    "EgressDenied",
    "EgressFailed",
    "EgressPolicy",
    "EgressResponse",
    "EgressTimeout",
    "FetchGuard",
    "FetchLimits",
    "GuardedClient",
    "GuardedTransport",
    "PolicyOnlyClient",
    "Resolver",
    "SystemResolver",
    "Target",
    "egress_client",
    "fetch_guard",
]

_LAZY = {
    "METADATA_ADDRESSES": "daloy_edge.egress._addresses",
    "EgressClient": "daloy_edge.egress._client",
    "EgressResponse": "daloy_edge.egress._client",
    "GuardedClient": "daloy_edge.egress._client",
    "PolicyOnlyClient": "daloy_edge.egress._client",
    "FetchLimits": "daloy_edge.egress._limits",
    "METADATA_HOSTS": "daloy_edge.egress._policy",
    "SPECIAL_USE_DOMAINS": "daloy_edge.egress._policy",
    "EgressPolicy": "daloy_edge.egress._policy",
    "Resolver": "daloy_edge.egress._resolver",
    "SystemResolver": "daloy_edge.egress._resolver",
    "Target": "daloy_edge.egress._url",
    "GuardedTransport": "daloy_edge.egress._httpx",
    "FetchGuard": "daloy_edge.middleware.egress",
    "egress_client": "daloy_edge.middleware.egress",
    "fetch_guard": "daloy_edge.middleware.egress",
}


# Each name loads its module on first access: httpx only with the transport, the
# policy's address tables (ipaddress, urllib) only once a guard is used, and the
# middleware module (which imports this package) on first use.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
register_problem(
    EgressDenied,
    lambda e: HTTPError(
        "the destination is not allowed", status=403, slug="egress-denied", title="Egress Denied"
    ),
)
register_problem(
    EgressTimeout,
    lambda e: GatewayTimeout("the upstream did not answer in time", slug="egress-timeout"),
)
register_problem(
    EgressFailed,
    lambda e: HTTPError(
        "the upstream request failed", status=502, slug="egress-failed", title="Bad Gateway"
    ),
)
