"""Abuse controls: ``/limited`` (5 requests a minute per client IP) and load shedding.

The rate-limit store is Upstash/Redis when ``DALOY_RATE_LIMIT_URL`` and
``DALOY_RATE_LIMIT_TOKEN`` are set (shared by every instance), else in-process memory.
"""

from __future__ import annotations

from daloy_edge import App, ConfigError, Request, Response
from daloy_edge.middleware.ratelimit import RateLimit, RateLimitConfig
from daloy_edge.middleware.shedding import LoadShedding, LoadSheddingConfig
from examples.reference.variables import naming

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from daloy_edge.ratelimit import RateLimitStore, UpstashREST
    from daloy_edge.types import NonceStore

SHEDDING = LoadSheddingConfig(
    max_concurrent=256, max_queue=256, queue_timeout=0.5, exempt_paths=("/health",)
)


def _upstash(app: App, env: Mapping[str, str]) -> UpstashREST | None:
    url = env.get("DALOY_RATE_LIMIT_URL", "")
    token = env.get("DALOY_RATE_LIMIT_TOKEN", "")
    if not url and not token:
        return None
    if not url or not token:
        raise ConfigError("set both DALOY_RATE_LIMIT_URL and DALOY_RATE_LIMIT_TOKEN, or neither")
    # The Upstash client is imported only when it is configured.
    from daloy_edge.ratelimit.upstash import UpstashREST

    with naming("DALOY_RATE_LIMIT_URL", "DALOY_RATE_LIMIT_TOKEN"):
        rest = UpstashREST(url, token)
    app.on_shutdown(rest.aclose)
    return rest


def rate_limit_store(app: App, env: Mapping[str, str]) -> RateLimitStore | None:
    """The Upstash store when both variables are set; None (memory) when neither is."""
    rest = _upstash(app, env)
    if rest is None:
        return None
    from daloy_edge.ratelimit.upstash import UpstashStore

    return UpstashStore(rest)


def nonce_store(app: App, env: Mapping[str, str]) -> NonceStore | None:
    """Webhook replay refusal shared through the same Upstash/Redis; None (memory) if unset."""
    rest = _upstash(app, env)
    if rest is None:
        return None
    from daloy_edge.ratelimit.upstash import UpstashNonceStore

    return UpstashNonceStore(rest)


def install(app: App, env: Mapping[str, str]) -> None:
    """Add load shedding (app-wide) and the ``/limited`` route to ``app``."""
    app.use(LoadShedding(SHEDDING))
    # Fixed windows read as the contract does: at most 5 per calendar minute, and
    # Retry-After never exceeds the minute.
    per_ip = RateLimit(
        RateLimitConfig(
            limit=5, window=60, algorithm="fixed_window", store=rate_limit_store(app, env)
        )
    )

    @app.get("/limited", middleware=[per_ip])
    async def limited(request: Request) -> Response:
        return Response.json({"ok": True})
