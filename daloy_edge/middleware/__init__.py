"""Middleware, one module per concern; import each from its module, for example
``from daloy_edge.middleware.ratelimit import RateLimit``, so an app loads only what it uses."""

__all__: list[str] = []
