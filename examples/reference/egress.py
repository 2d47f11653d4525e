"""``GET /fetch?url=``: egress through the fetch guard.

``DALOY_EGRESS_ALLOW_HOSTS`` (comma-separated; empty: any public host) restricts the
destinations; ``DALOY_EGRESS_ALLOW_CIDRS`` opts otherwise denied ranges in (tests only).
"""

from __future__ import annotations

import sys

from daloy_edge import App, BadRequest, ConfigError, Request, Response
from daloy_edge.egress import FetchLimits, egress_client, fetch_guard
from daloy_edge.transport import HTTPTransport
from examples.reference.variables import entries, naming

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_URL_LENGTH = 4096


def has_scheme(url: str) -> bool:
    """True when ``url`` starts with a URI scheme and its colon (RFC 3986: a letter, then
    letters, digits, ``+``, ``-`` or ``.``). String methods rather than a regular
    expression: importing ``re`` would cost every cold start."""
    scheme, colon, _ = url.partition(":")
    return (
        bool(colon)
        and scheme.isascii()
        and scheme[:1].isalpha()
        and all(char.isalnum() or char in "+-." for char in scheme)
    )


def _url_param(request: Request) -> str:
    values = request.query.get_all("url")
    if len(values) != 1:
        raise BadRequest("give exactly one url parameter")
    url = values[0]
    if len(url) > MAX_URL_LENGTH or not has_scheme(url):
        raise BadRequest("url must be an absolute URL")
    return url


def _workers_fetch() -> HTTPTransport | None:
    # Pyodide (Cloudflare Workers) has no sockets and no DNS API: there the guard checks
    # URLs, literal addresses and names, and sends through the Workers fetch.
    if sys.platform != "emscripten":
        return None
    from daloy_edge_cloudflare import FetchTransport

    transport: HTTPTransport = FetchTransport()
    return transport


def install(app: App, env: Mapping[str, str]) -> None:
    """Add ``/fetch`` to ``app`` (the guard runs for that route only)."""
    listed = env.get("DALOY_EGRESS_ALLOW_HOSTS", "")
    hosts = entries(listed)
    if listed and not hosts:
        # An empty allow-list allows every public host: a list that lost its entries
        # must not open /fetch to the internet.
        raise ConfigError(f"DALOY_EGRESS_ALLOW_HOSTS names no host: {listed[:40]!r}")
    with naming("DALOY_EGRESS_ALLOW_HOSTS", "DALOY_EGRESS_ALLOW_CIDRS"):
        guard = fetch_guard(
            allow_hosts=hosts,
            allow_cidrs=entries(env.get("DALOY_EGRESS_ALLOW_CIDRS")),
            # Any port: the address rules are what stop SSRF here, and the ranges tests
            # opt in listen on ephemeral ports. Library users keep the 80/443 default.
            ports=None,
            limits=FetchLimits(connect_timeout=3.0, read_timeout=5.0, total_timeout=8.0),
            policy_only_transport=_workers_fetch(),
        )
    app.on_shutdown(guard.aclose)

    @app.get("/fetch", middleware=[guard])
    async def fetch(request: Request) -> Response:
        upstream = await egress_client(request).get(_url_param(request))
        return Response.json({"status": upstream.status, "bytes": len(upstream.body)})
