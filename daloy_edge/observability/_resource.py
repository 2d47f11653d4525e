"""The OTel ``Resource``: which service, cloud and function produced a record."""

from __future__ import annotations

from daloy_edge.observability._emf import RequestMetrics
from daloy_edge.observability._record import encode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from daloy_edge.observability._config import LogConfig
    from daloy_edge.observability._gcp import CloudLogging
    from daloy_edge.observability._lambda import LambdaLogging

__all__ = ["Runtime", "detect_resource", "is_gcp", "is_lambda", "is_workers"]

_LAMBDA_RUNTIMES = frozenset({"aws_lambda", "lambda"})
_GCP_RUNTIMES = frozenset({"gcp_functions", "gcp", "gcf", "cloud_functions"})
_CLOUDFLARE_RUNTIMES = frozenset({"cloudflare", "workers", "cloudflare_workers"})


def _kind(runtime: str) -> str:
    return runtime.lower().replace("-", "_")


_MAX_RESOURCE_ATTRS = 64
_NEVER = 1 << 8  # past every severity number
_WARN = 13


def is_lambda(env: Mapping[str, str], runtime: str) -> bool:
    """True when running inside AWS Lambda (by adapter name or Lambda's own variables)."""
    return _kind(runtime) in _LAMBDA_RUNTIMES or bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))


def is_gcp(env: Mapping[str, str], runtime: str) -> bool:
    """True when running on Cloud Functions or Cloud Run (by adapter name or their
    variables), and not on Lambda."""
    return not is_lambda(env, runtime) and (
        _kind(runtime) in _GCP_RUNTIMES or bool(env.get("K_SERVICE") or env.get("FUNCTION_TARGET"))
    )


def is_workers(runtime: str) -> bool:
    """True when serving from Cloudflare Workers (by adapter name)."""
    return _kind(runtime) in _CLOUDFLARE_RUNTIMES


def _otel_resource_attributes(value: str) -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES`` (``k=v,k2=v2``, percent-encoded); bad pairs are skipped."""
    found: dict[str, str] = {}
    if not value:
        return found
    from urllib.parse import unquote  # only when the variable is set

    for pair in value.split(",")[:_MAX_RESOURCE_ATTRS]:
        key, sep, val = pair.partition("=")
        if sep and key.strip():
            found[unquote(key.strip())] = unquote(val.strip())
    return found


def _lambda(env: Mapping[str, str]) -> dict[str, str]:
    found = {"cloud.provider": "aws", "cloud.platform": "aws_lambda"}
    optional = {
        "faas.name": env.get("AWS_LAMBDA_FUNCTION_NAME"),
        "faas.version": env.get("AWS_LAMBDA_FUNCTION_VERSION"),
        "faas.instance": env.get("AWS_LAMBDA_LOG_STREAM_NAME"),
        "cloud.region": env.get("AWS_REGION"),
        "aws.log.group.names": env.get("AWS_LAMBDA_LOG_GROUP_NAME"),
    }
    memory = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if memory.isdigit():
        optional["faas.max_memory"] = str(int(memory) * 1024 * 1024)
    found.update({k: v for k, v in optional.items() if v})
    return found


def _gcp(env: Mapping[str, str], runtime: str) -> dict[str, str]:
    # A function (the adapter, or FUNCTION_TARGET, which Cloud Run sets for a function
    # deployed from source) or a Cloud Run service of your own (K_SERVICE alone).
    function = _kind(runtime) in _GCP_RUNTIMES or bool(env.get("FUNCTION_TARGET"))
    platform = "gcp_cloud_functions" if function else "gcp_cloud_run"
    found = {"cloud.provider": "gcp", "cloud.platform": platform}
    optional = {
        "faas.name": env.get("K_SERVICE") or env.get("FUNCTION_TARGET"),
        "faas.version": env.get("K_REVISION"),
        "cloud.account.id": env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT"),
        "cloud.region": env.get("FUNCTION_REGION"),
    }
    found.update({k: v for k, v in optional.items() if v})
    return found


def detect_resource(
    env: Mapping[str, str], runtime: str, *, service_name: str | None = None
) -> dict[str, str]:
    """Resource attributes for this process, from the runtime name and its variables.

    ``OTEL_SERVICE_NAME`` wins over a ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``, as
    in the OTel SDKs. Unlike the SDKs, where a resource given in code wins over both
    variables, both win over ``service_name`` here: a deployment renames the service.

    >>> detect_resource({"AWS_LAMBDA_FUNCTION_NAME": "api", "AWS_REGION": "eu-west-1"}, "aws_lambda")["faas.name"]
    'api'
    """  # noqa: E501
    resource = {
        "telemetry.sdk.name": "daloy-edge",
        "telemetry.sdk.language": "python",
    }
    if is_lambda(env, runtime):
        resource.update(_lambda(env))
    elif is_gcp(env, runtime):
        resource.update(_gcp(env, runtime))
    elif is_workers(runtime):
        resource.update({"cloud.provider": "cloudflare", "cloud.platform": "cloudflare_workers"})
    given = _otel_resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    resource.update(given)
    # As the SDKs read them: OTEL_SERVICE_NAME first, then the service.name the
    # attributes name (overwritten below, it gave way to the function's name).
    name = (
        env.get("OTEL_SERVICE_NAME")
        or given.get("service.name")
        or service_name
        or resource.get("faas.name")
    )
    resource["service.name"] = name or "daloy-edge"
    if runtime:
        resource["daloy.runtime"] = runtime
    return resource


class Runtime:
    """What stays the same for every request from one runtime: computed once.

    ``gcp`` writes the members Cloud Logging reads, on Google Cloud only (None elsewhere);
    it names the trace by ``cloud.account.id``, the project. ``platform`` writes the
    members the platform's log pipeline reads: Cloud Logging's, or on Lambda under the
    JSON log format the level Lambda filters by (None elsewhere). ``fold_from`` is the
    lowest severity number of a request line the metrics ride on (past any severity when
    they never do). ``console_from`` is the lowest severity number of a stdout line
    written at the platform console instead (Workers Logs reads a line's level from
    the console method: WARN and above there, past any severity elsewhere).
    """

    __slots__ = (
        "console_from",
        "fold_from",
        "gcp",
        "metrics",
        "on_lambda",
        "platform",
        "resource",
        "resource_json",
    )

    def __init__(
        self,
        resource: dict[str, str],
        on_lambda: bool,
        config: LogConfig,
        *,
        on_gcp: bool = False,
        on_workers: bool = False,
    ) -> None:
        self.resource = resource
        self.console_from = _WARN if on_workers else _NEVER
        self.resource_json = encode(dict(resource))
        self.on_lambda = on_lambda
        # Each platform's module is loaded on that platform only: not at every cold start.
        self.gcp: CloudLogging | None = None
        if on_gcp:
            from daloy_edge.observability._gcp import CloudLogging

            self.gcp = CloudLogging(resource.get("cloud.account.id"))
        env = config.env
        self.platform: CloudLogging | LambdaLogging | None = self.gcp
        floor = 0
        if on_lambda and env.get("AWS_LAMBDA_LOG_FORMAT"):
            from daloy_edge.observability._lambda import (
                LambdaLogging,
                lambda_log_format,
                lambda_log_level,
            )

            if lambda_log_format(env):
                self.platform = lambda_logging = LambdaLogging(lambda_log_level(env))
                floor = lambda_logging.floor
        # Metrics ride on the stdout request line unless they are sent somewhere else, or
        # Lambda would drop the line under its log level.
        folds = config.stdout and config.metrics_sinks is None
        self.fold_from = floor if folds else _NEVER
        enabled = on_lambda if config.metrics is None else config.metrics
        self.metrics = (
            RequestMetrics(namespace=config.metrics_namespace, service=resource["service.name"])
            if enabled
            else None
        )
