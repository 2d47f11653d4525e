"""Middleware: one module per concern, each thin glue over a pure layer.

Import each from its module, for example ``from daloy_edge.middleware.jwt import JWTAuth``.
"""

__all__: list[str] = []
