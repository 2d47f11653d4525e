"""The reference app on AWS Lambda, with its secrets read from Secrets Manager at init.

``infra/aws/template.yaml`` deploys this module (handler
``examples.lambda.secure_entry.lambda_handler``) and passes the secrets' ARNs, never
their values: ``DALOY_SESSION_KEYS_SECRET_ARN``, ``DALOY_ADMIN_PASSWORDS_SECRET_ARN`` and
``DALOY_WEBHOOK_SECRETS_SECRET_ARN`` (and ``DALOY_RATE_LIMIT_TOKEN_SECRET_ARN`` when an
Upstash token is kept there too). During the init phase each is read once
(``AWSCURRENT``) into the variable without the suffix, in the mapping the app is built
from; ``os.environ`` is left as it is. A new value reaches the function with its next
execution environments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from daloy_edge_aws_lambda import LambdaHandler, handler
from daloy_edge_aws_lambda.secrets_manager import SecretsClient, env_with_secrets

from examples.secure_app import PausedCollector, create_app

__all__ = ["SECRET_VARIABLES", "build", "lambda_handler"]  # noqa: F822

SECRET_VARIABLES = (
    "DALOY_SESSION_KEYS",
    "DALOY_ADMIN_PASSWORDS",
    "DALOY_WEBHOOK_SECRETS",
    "DALOY_RATE_LIMIT_TOKEN",
)
"""The variables that may come from Secrets Manager (``<NAME>_SECRET_ARN``)."""


def build(
    env: Mapping[str, str] = os.environ, *, client: SecretsClient | None = None
) -> LambdaHandler:
    """The Lambda handler for the reference app built from ``env`` and its secrets."""
    return handler(create_app(env_with_secrets(env, SECRET_VARIABLES, client=client)))


def __getattr__(name: str) -> object:
    # The runtime asks for the handler during the init phase; building it then (rather
    # than at import) keeps importing this module free of AWS calls.
    if name == "lambda_handler":
        with PausedCollector():
            globals()[name] = entry = build()
        return entry
    raise AttributeError(name)
