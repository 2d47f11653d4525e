"""AWS Lambda adapter (API Gateway v1/v2, Function URLs, ALB) for daloy_edge."""

__all__: list[str] = []
