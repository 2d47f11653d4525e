"""The reference app: every route of the contract, served identically on every runtime.

Run it locally with ``daloy-edge dev``; deploy it with the entry points below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from daloy_edge_asgi import ASGIApp

from daloy_edge import App
from daloy_edge.audit import audit_app, audit_environment, enforce
from examples.reference import browser, core_routes, egress, identity

__all__ = ["app", "asgi", "create_app", "gcf_handler", "lambda_handler"]  # noqa: F822


def create_app(env: Mapping[str, str] = os.environ) -> App:
    """Build the reference app from environment variables (no network I/O).

    In production an insecure setting refuses to start (``InsecureConfiguration``, a
    ``ConfigError``) with the fix in the message; unset variables never do: the features
    they configure stay closed instead (see CONTRACT.md).
    """
    production = (env.get("DALOY_ENV") or "production") == "production"
    if production:
        enforce(audit_environment(env))
    timeout_ms = int(env.get("DALOY_REQUEST_TIMEOUT_MS", "10000") or "10000")
    max_body = int(env.get("DALOY_MAX_BODY_BYTES", "1048576") or "1048576")
    app = App(env=env, request_timeout=timeout_ms / 1000, max_body=max_body)
    core_routes.install(app)
    browser.install(app, env)
    identity.install(app, env)
    egress.install(app, env)
    if production:
        enforce(audit_app(app))
    return app


app = create_app()
asgi = ASGIApp(app)


def __getattr__(name: str) -> object:
    # Runtime adapters are imported only when their entry point is asked for, so
    # importing this module never pulls in boto3, flask, mangum or js.
    if name == "lambda_handler":
        from daloy_edge_aws_lambda import handler

        globals()[name] = entry = handler(app)
        return entry
    if name == "gcf_handler":
        from daloy_edge_gcp_functions import handler as gcf

        globals()[name] = entry = gcf(app)
        return entry
    raise AttributeError(name)
