"""ASGI 3 adapter: serve a daloy_edge App under uvicorn, hypercorn or Mangum.

>>> from daloy_edge import App
>>> from daloy_edge_asgi import ASGIApp
>>> asgi = ASGIApp(App())
"""

from daloy_edge_asgi._adapter import ASGIApp, to_request

__all__ = ["ASGIApp", "to_request"]
