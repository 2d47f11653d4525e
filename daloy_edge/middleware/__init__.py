"""Middleware: one module per defense, thin glue over the pure layers.

Import from the submodules (``daloy_edge.middleware.sessions``, ``.csrf``, ...); each is
loaded only when used.
"""

__all__: list[str] = []
