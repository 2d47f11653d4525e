"""Observability wiring for the reference app.

``App()`` already writes one OTel-shaped, redacted JSON line per request to stdout
(``DALOY_LOG_LEVEL``, ``DALOY_LOG_REDACT_KEYS``, ``DALOY_LOG_SPANS``, ``DALOY_LOG_HEADERS``
tune it) and EMF metric lines on Lambda. Here:

- Server-Timing phases (auth, handler) go only to clients inside ``DALOY_ADMIN_CIDRS``
  (the operators); everyone else sees ``total``, so auth timing is not handed out.
- Off Lambda, ``DALOY_CLOUDWATCH_LOG_GROUP`` (with the usual AWS variables) also ships
  every line to CloudWatch Logs in the background.
"""

from __future__ import annotations

from daloy_edge import App
from daloy_edge.observability import trusted_clients
from examples.reference.variables import naming

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_OPERATOR_CIDRS = "127.0.0.1/32,::1/128"


def install(app: App, env: Mapping[str, str]) -> None:
    """Limit Server-Timing detail to operators; add a CloudWatch shipper when asked for."""
    cidrs = env.get("DALOY_ADMIN_CIDRS") or DEFAULT_OPERATOR_CIDRS
    app.server_timing_phases = trusted_clients(*cidrs.split(","))
    group = env.get("DALOY_CLOUDWATCH_LOG_GROUP", "").strip()
    if not group or app.request_log is None or env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    # Imported only when configured: the shipper's boto3 import happens later still,
    # in its sender thread, so building the app does no network or SDK work.
    from daloy_edge_aws_lambda.cloudwatch import CloudWatchLogsShipper

    with naming(
        "DALOY_CLOUDWATCH_LOG_GROUP", "DALOY_CLOUDWATCH_LOG_STREAM", "DALOY_CLOUDWATCH_ENDPOINT_URL"
    ):
        shipper = CloudWatchLogsShipper(
            group,
            env.get("DALOY_CLOUDWATCH_LOG_STREAM") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            endpoint_url=env.get("DALOY_CLOUDWATCH_ENDPOINT_URL") or None,
        )
    app.request_log.add_sink(shipper)
    app.on_shutdown(shipper.close)
