"""protect() stacked with Powertools' @idempotent, its records in DynamoDB on a real moto server.

protect() answers a refusal or an exception with a result rather than raising, so the order
of the two decorators decides what the idempotency layer stores (docs/quickstart/lambda.md).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from daloy_edge_aws_lambda import protect

from daloy_edge import Request, Response, Unauthorized
from daloy_edge.types import CallNext
from tests.conformance.harness.gateways import build_event
from tests.conformance.harness.inprocess import Context

pytestmark = pytest.mark.slow

_TABLES = itertools.count()


class RequireToken:
    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        if request.headers.get("x-token") != "letmein":
            raise Unauthorized("token required")
        return await call_next(request)


def idempotency(moto) -> Callable[[Callable[..., Any]], Callable[..., Any]]:  # type: ignore[no-untyped-def]
    """Powertools' @idempotent keyed on the Idempotency-Key header, over a fresh table."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent,
    )

    table = f"idempotency-{next(_TABLES)}"
    client = moto.client("dynamodb")
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    layer = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
    config = IdempotencyConfig(event_key_jmespath='headers."idempotency-key"')
    return idempotent(config=config, persistence_store=layer)  # type: ignore[no-any-return]


def order(headers: list[tuple[str, str]]) -> dict[str, Any]:
    return build_event(
        "http-v2",
        "POST",
        "/orders",
        [("host", "example.test"), ("idempotency-key", "order-1"), *headers],
        b"",
    )


def flaky(calls: list[int]) -> Callable[..., dict[str, object]]:
    """A handler whose first call fails, as a database blip would."""

    def create_order(event, context):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("connection reset by the database")
        return {"statusCode": 201, "body": json.dumps({"order": len(calls)})}

    return create_order


def test_idempotent_inside_protect_lets_a_retry_after_a_500_run_the_handler(moto) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []
    lambda_handler = protect()(idempotency(moto)(flaky(calls)))

    assert lambda_handler(order([]), Context())["statusCode"] == 500
    retried = lambda_handler(order([]), Context())
    replayed = lambda_handler(order([]), Context())

    assert (retried["statusCode"], replayed["statusCode"]) == (201, 201)
    assert retried["body"] == replayed["body"] == '{"order": 2}'
    assert len(calls) == 2


def test_idempotent_outside_protect_replays_the_500_to_every_retry(moto) -> None:  # type: ignore[no-untyped-def]
    # Why the docs put it inside: protect() answered the exception, so the idempotency
    # layer saw a result, stored it, and the handler never ran again for the key.
    calls: list[int] = []
    lambda_handler = idempotency(moto)(protect()(flaky(calls)))

    first = lambda_handler(order([]), Context())
    retried = lambda_handler(order([]), Context())

    assert first["statusCode"] == retried["statusCode"] == 500
    assert retried["headers"]["x-request-id"] == first["headers"]["x-request-id"]
    assert len(calls) == 1


def test_a_request_protect_refuses_never_reaches_an_idempotent_handler_inside_it(moto) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def create_order(event, context):  # type: ignore[no-untyped-def]
        calls.append(1)
        return {"statusCode": 201, "body": "created"}

    lambda_handler = protect(RequireToken())(idempotency(moto)(create_order))

    assert lambda_handler(order([]), Context())["statusCode"] == 401
    # The refusal stored nothing under the key: the same key with a token is served.
    assert lambda_handler(order([("x-token", "letmein")]), Context())["statusCode"] == 201
    assert len(calls) == 1
