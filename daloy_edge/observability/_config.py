"""How requests are logged, traced and measured: :class:`LogConfig`."""

from __future__ import annotations

import os

from daloy_edge._errors import ConfigError
from daloy_edge._idbytes import id_bytes
from daloy_edge._record import field, record
from daloy_edge.observability._emf import check_namespace
from daloy_edge.observability._record import severity_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from daloy_edge.observability._sinks import Sink
    from daloy_edge.types import RandomBytes

__all__ = ["LogConfig"]

OTEL_SDK_MODULE = "opentelemetry.sdk.trace"
"""Spans are exported through the OpenTelemetry SDK only once the application imported it."""


@record(frozen=True, kw_only=True)
class LogConfig:
    """How requests are logged, traced and measured.

    ``level`` filters records below it (request lines are INFO, WARN for 4xx, ERROR for
    5xx). ``stdout`` writes lines to standard output; ``sinks`` get every record too.
    ``redact_keys`` adds secret-shaped key fragments. ``log_headers`` adds the request
    and response headers, redacted. ``spans`` adds a span record per request.
    ``metrics`` adds EMF metrics (None: only on AWS Lambda): to the stdout request line,
    or as lines of their own to ``metrics_sinks`` when given (or to stdout when the
    request line is not written there). ``otel`` exports spans through the
    OpenTelemetry SDK (None: when one is configured). ``random_bytes`` makes trace and
    span ids.
    """

    service_name: str | None = None
    level: str = "INFO"
    stdout: bool = True
    sinks: Sequence[Sink] = ()
    redact_keys: Sequence[str] = ()
    log_headers: bool = False
    spans: bool = False
    metrics: bool | None = None
    metrics_namespace: str = "daloy-edge"
    metrics_sinks: Sequence[Sink] | None = None
    otel: bool | None = None
    tracer_provider: object | None = None
    # The whole environment, secrets and cloud credentials included (os.environ by
    # default): a printed or logged configuration must not carry it.
    env: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)
    random_bytes: RandomBytes = id_bytes

    def __post_init__(self) -> None:
        try:
            severity_name(self.level)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if not self.metrics_namespace:
            raise ConfigError("metrics_namespace must not be empty")
        # Checked here, not when the first request builds its metrics: failing then, the
        # request log would lose every line, not only the metrics.
        check_namespace(self.metrics_namespace)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> LogConfig:
        """Read ``DALOY_LOG_LEVEL`` (else Lambda's ``AWS_LAMBDA_LOG_LEVEL`` under its JSON
        log format), ``DALOY_LOG_REDACT_KEYS`` (comma-separated), ``DALOY_LOG_SPANS`` and
        ``DALOY_LOG_HEADERS`` (``1``) from ``env``; keyword arguments win."""
        values: dict[str, object] = {"env": env}
        # Without the line break a secrets file leaves behind, as other variables are read.
        level = env.get("DALOY_LOG_LEVEL", "").strip()
        if level and "level" not in overrides:
            try:
                severity_name(level)
            except ValueError:
                # LogConfig speaks of its field; the operator must fix the variable.
                raise ConfigError(
                    f"DALOY_LOG_LEVEL must be TRACE, DEBUG, INFO, WARN, ERROR or FATAL, "
                    f"not {level[:40]!r}"
                ) from None
            values["level"] = level
        elif (
            "level" not in overrides
            and env.get("AWS_LAMBDA_FUNCTION_NAME")
            and env.get("AWS_LAMBDA_LOG_LEVEL")
        ):
            # Lambda drops what is below its own level: formatting it is wasted.
            from daloy_edge.observability._lambda import lambda_log_level

            lambda_level = lambda_log_level(env)
            if lambda_level is not None:
                values["level"] = lambda_level
        extra = env.get("DALOY_LOG_REDACT_KEYS", "")
        if extra.strip():
            values["redact_keys"] = tuple(k.strip() for k in extra.split(",") if k.strip())
        for variable, option in (
            ("DALOY_LOG_SPANS", "spans"),
            ("DALOY_LOG_HEADERS", "log_headers"),
        ):
            if env.get(variable, "").lower() in ("1", "true", "yes"):
                values[option] = True
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
