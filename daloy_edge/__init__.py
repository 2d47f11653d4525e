"""daloy_edge: secure-by-default HTTP handlers for Lambda, Workers, Cloud Functions and ASGI.

>>> from daloy_edge import App
>>> app = App()
>>> @app.get("/health")
... async def health(request): return {"status": "ok"}
"""

# First: the submodules below load through the package finder it installs.
from daloy_edge import _importer  # noqa: F401  # isort: skip
from daloy_edge._app import App
from daloy_edge._chain import use
from daloy_edge._errors import (
    BadRequest,
    ConfigError,
    Forbidden,
    GatewayTimeout,
    HTTPError,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestHeaderFieldsTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    register_problem,
)
from daloy_edge._guards import RequestLimits
from daloy_edge._headers import Headers
from daloy_edge._json import UnsafeJSON, parse_json
from daloy_edge._request import QueryParams, Request
from daloy_edge._response import Response
from daloy_edge._router import Router
from daloy_edge._secrets import KeyRing, Secret
from daloy_edge.static import static_files

__all__ = [
    "App",
    "BadRequest",
    "ConfigError",
    "Forbidden",
    "GatewayTimeout",
    "HTTPError",
    "Headers",
    "InternalServerError",
    "KeyRing",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "QueryParams",
    "Request",
    "RequestHeaderFieldsTooLarge",
    "RequestLimits",
    "Response",
    "Router",
    "Secret",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnsafeJSON",
    "UnsupportedMediaType",
    "parse_json",
    "register_problem",
    "static_files",
    "use",
]

__version__ = "0.1.0"
