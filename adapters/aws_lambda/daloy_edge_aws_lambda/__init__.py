"""AWS Lambda adapter (API Gateway REST and HTTP APIs, Function URLs, ALB) for daloy_edge.

>>> from daloy_edge import App
>>> from daloy_edge_aws_lambda import handler
>>> app = App()
>>> lambda_handler = handler(app)

A plain handler keeps its code and gains the same defenses with :func:`protect`::

    @protect(my_auth_middleware)
    def lambda_handler(event, context):
        return {"statusCode": 200, "body": "hello"}
"""

from daloy_edge._lazy import lazy_exports
from daloy_edge_aws_lambda._events import (
    ALB,
    ALB_MULTI_VALUE,
    FUNCTION_URL,
    HTTP_API_V2,
    REST_API_V1,
    EventShape,
    UnsupportedEvent,
    detect,
)
from daloy_edge_aws_lambda._handler import DEFAULT_FLUSH_MARGIN_MS, handler

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge_aws_lambda._protect import PlainHandler, current_request, protect
    from daloy_edge_aws_lambda._types import (
        LambdaContext,
        LambdaEvent,
        LambdaHandler,
        LambdaResult,
    )

__all__ = [
    "ALB",
    "ALB_MULTI_VALUE",
    "DEFAULT_FLUSH_MARGIN_MS",
    "FUNCTION_URL",
    "HTTP_API_V2",
    "REST_API_V1",
    "EventShape",
    "LambdaContext",
    "LambdaEvent",
    "LambdaHandler",
    "LambdaResult",
    "PlainHandler",
    "UnsupportedEvent",
    "current_request",
    "detect",
    "handler",
    "protect",
]

# Loaded when first asked for: neither ``typing`` nor :func:`protect`'s imports are on the
# cold path of an app served through :func:`handler`.
_LAZY = {
    "LambdaContext": "_types",
    "LambdaEvent": "_types",
    "LambdaHandler": "_types",
    "LambdaResult": "_types",
    "PlainHandler": "_protect",
    "current_request": "_protect",
    "protect": "_protect",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
