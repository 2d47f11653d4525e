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
from daloy_edge_aws_lambda._handler import (
    DEFAULT_FLUSH_MARGIN_MS,
    LambdaContext,
    LambdaEvent,
    LambdaHandler,
    LambdaResult,
    handler,
)
from daloy_edge_aws_lambda._protect import PlainHandler, current_request, protect

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
