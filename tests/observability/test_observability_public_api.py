"""The observability package's public surface is explicit, pinned and documented."""

from __future__ import annotations

import daloy_edge_aws_lambda.cloudwatch as cloudwatch
import daloy_edge_aws_lambda.secrets_manager as keyring_module

import daloy_edge.observability as observability


def test_observability_public_names_are_pinned():
    assert sorted(observability.__all__) == [
        "DEFAULT_SECRET_KEYS",
        "EMF_UNITS",
        "LogConfig",
        "LoggerSink",
        "MemorySink",
        "REDACTED",
        "Redactor",
        "RequestLog",
        "RequestLogger",
        "SEVERITIES",
        "Sink",
        "StreamSink",
        "Timed",
        "TraceContext",
        "TracePropagatingTransport",
        "current_trace",
        "detect_resource",
        "emf_document",
        "encode",
        "extract",
        "format_traceparent",
        "format_xray",
        "get_logger",
        "outbound_headers",
        "parse_traceparent",
        "parse_tracestate",
        "parse_xray",
        "phase",
        "redact",
        "request_metrics",
        "scrub_text",
        "trusted_clients",
    ]


def test_aws_modules_public_names_are_pinned():
    assert sorted(cloudwatch.__all__) == [
        "CloudWatchLogsShipper",
        "LogEvent",
        "ShipperStats",
        "take_batch",
    ]
    assert sorted(keyring_module.__all__) == [
        "ARN_SUFFIX",
        "KeyRingUnavailable",
        "SecretsClient",
        "SecretsManagerKeyRing",
        "env_with_secrets",
        "parse_key_material",
    ]


def test_every_public_callable_is_documented():
    for module in (observability, cloudwatch, keyring_module):
        for name in module.__all__:
            value = getattr(module, name)
            if callable(value):
                assert value.__doc__ and value.__doc__.strip(), f"{module.__name__}.{name}"


def test_aws_modules_do_not_import_boto3_until_used():
    import subprocess
    import sys

    code = (
        "import sys, daloy_edge_aws_lambda.cloudwatch, daloy_edge_aws_lambda.secrets_manager;"
        "print('boto3' in sys.modules or 'botocore' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
