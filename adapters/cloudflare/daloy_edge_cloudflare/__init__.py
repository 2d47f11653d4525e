"""Cloudflare Python Workers adapter for daloy_edge.

A Worker serving an app is three lines (``src/entry.py``):

>>> # from daloy_edge_cloudflare import entrypoint
>>> # from examples.secure_app import create_app
>>> # Default = entrypoint(create_app)

The app is built once per isolate from the Worker's string bindings (``[vars]`` and
secrets). The client address is ``cf-connecting-ip``; bodies are read from the JS stream
and never past the app's limit; every ``Set-Cookie`` reaches the client. Outbound HTTP
goes through :class:`FetchTransport` and JWT signatures through :class:`WebCryptoBackend`,
so nothing on this path needs ``cryptography``, threads or sockets.
"""

from daloy_edge_cloudflare._env import WorkerEnv
from daloy_edge_cloudflare._fetch import FetchTransport
from daloy_edge_cloudflare._request import CLIENT_HEADER, client_address, to_request
from daloy_edge_cloudflare._response import to_js_response
from daloy_edge_cloudflare._serve import WAIT_UNTIL, AppFactory, WorkersApp, entrypoint
from daloy_edge_cloudflare._webcrypto import (
    WEBCRYPTO_ALGORITHMS,
    InvalidKey,
    VerificationKey,
    WebCryptoBackend,
)

__all__ = [
    "CLIENT_HEADER",
    "WAIT_UNTIL",
    "WEBCRYPTO_ALGORITHMS",
    "AppFactory",
    "FetchTransport",
    "InvalidKey",
    "VerificationKey",
    "WebCryptoBackend",
    "WorkerEnv",
    "WorkersApp",
    "client_address",
    "entrypoint",
    "to_js_response",
    "to_request",
]
