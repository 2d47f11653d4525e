"""The adapters' public surface is explicit and pinned."""

from __future__ import annotations

import inspect

import daloy_edge_aws_lambda
import daloy_edge_gcp_functions


def test_lambda_adapter_public_names_are_pinned() -> None:
    assert sorted(daloy_edge_aws_lambda.__all__) == [
        "ALB",
        "ALB_MULTI_VALUE",
        "DEFAULT_FLUSH_MARGIN_MS",
        "EventShape",
        "FUNCTION_URL",
        "HTTP_API_V2",
        "LambdaContext",
        "LambdaEvent",
        "LambdaHandler",
        "LambdaResult",
        "PlainHandler",
        "REST_API_V1",
        "UnsupportedEvent",
        "current_request",
        "detect",
        "handler",
        "protect",
    ]


def test_gcf_adapter_public_names_are_pinned() -> None:
    assert sorted(daloy_edge_gcp_functions.__all__) == [
        "GCFHandler",
        "from_response",
        "handler",
        "to_request",
    ]


def test_every_public_name_is_documented() -> None:
    for module in (daloy_edge_aws_lambda, daloy_edge_gcp_functions):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                assert inspect.getdoc(obj), f"{module.__name__}.{name}"
