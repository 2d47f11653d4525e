"""Cookies, repeated fields, commas and bodies: the cases adapters keep getting wrong."""

from __future__ import annotations

import hashlib

import pytest

from tests.conformance.harness.client import Transport
from tests.conformance.probe_app import BINARY, GZIPPED, UNSENDABLE

SINGLE_VALUE_GATEWAYS = ("lambda-alb",)
DECODED_QUERY = ("lambda-rest-v1", "mangum-rest-v1", "mangum-alb-multi")
"""A REST API decodes query values (Mangum decodes an ALB's too) before the app sees them."""


def skip_single_value_gateway(transport: Transport) -> None:
    if transport.name in SINGLE_VALUE_GATEWAYS:
        pytest.skip("an ALB without multi-value headers forwards only the last value")


def split_values(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",")]


def test_two_set_cookie_headers_arrive_as_two_fields(probe: Transport) -> None:
    reply = probe.get("/cookies")
    cookies = reply.headers.get_all("set-cookie")
    assert len(cookies) == 2
    assert cookies[0].startswith("first=1;")
    assert cookies[1].startswith("second=2;")
    assert "SameSite=Strict" in cookies[1]


def test_every_request_cookie_reaches_the_app(probe: Transport) -> None:
    reply = probe.get("/cookies/echo", headers={"Cookie": "a=1; b=2; c=3"})
    assert reply.json() == {"a": "1", "b": "2", "c": "3"}


def test_repeated_query_keys_keep_every_value_in_order(probe: Transport) -> None:
    skip_single_value_gateway(probe)
    reply = probe.get("/query?k=1&k=2&j=3")
    assert reply.json()["items"] == [["k", "1"], ["k", "2"], ["j", "3"]]  # type: ignore[index]


def test_encoded_query_values_are_decoded_exactly_once(probe: Transport) -> None:
    reply = probe.get("/query?q=a%26b%3Dc&sp=x+y&pct=100%2525")
    items = reply.json()["items"]  # type: ignore[index]
    assert items == [["q", "a&b=c"], ["sp", "x y"], ["pct", "100%25"]]


def test_empty_query_fields_do_not_count_toward_the_field_bound(probe: Transport) -> None:
    # REST APIs and ALB hand over the fields alone; the empty ones must not tip the
    # bound on the runtimes that pass the query as sent.
    query = "&".join(f"k{i}=v" for i in range(1000))
    reply = probe.get(f"/query?&{query}&&")
    assert reply.status == 200
    assert len(reply.json()["items"]) == 1000  # type: ignore[index]


def test_a_fragment_sent_by_a_client_adds_no_query_field(probe: Transport) -> None:
    # gunicorn and Workers drop it; uvicorn with h11 passes it on in the query.
    if probe.name in DECODED_QUERY:
        pytest.skip("decoded values: a '#' the service handed on reads as one sent escaped")
    reply = probe.get("/query?a=1#&b=2")
    assert reply.json()["items"] == [["a", "1"]]  # type: ignore[index]


def test_request_header_with_commas_stays_one_value(probe: Transport) -> None:
    reply = probe.get("/headers", headers={"X-List": "a, b, c"})
    assert reply.json()["x-list"] == ["a, b, c"]  # type: ignore[index]


def test_repeated_request_headers_keep_every_value(probe: Transport) -> None:
    skip_single_value_gateway(probe)
    reply = probe.get("/headers", headers=[("X-Repeat", "1"), ("X-Repeat", "2")])
    assert split_values(reply.json()["x-repeat"]) == ["1", "2"]  # type: ignore[index]


def test_response_header_with_commas_stays_intact(probe: Transport) -> None:
    reply = probe.get("/headers")
    assert reply.headers.get_all("x-out-list") == ["alpha, beta"]


def test_repeated_response_headers_keep_every_value(probe: Transport) -> None:
    reply = probe.get("/headers")
    assert split_values(reply.headers.get_all("x-out-repeat")) == ["one", "two"]


def test_empty_request_body_arrives_empty(probe: Transport) -> None:
    reply = probe.post("/body")
    assert reply.json()["length"] == 0  # type: ignore[index]


def test_binary_upload_arrives_byte_for_byte(probe: Transport) -> None:
    reply = probe.post("/body", headers={"Content-Type": "application/octet-stream"}, body=BINARY)
    assert reply.status == 200
    assert reply.json()["sha256"] == hashlib.sha256(BINARY).hexdigest()  # type: ignore[index]


def test_utf8_text_upload_arrives_intact(probe: Transport) -> None:
    text = "héllo ✓ wörld".encode()
    reply = probe.post("/body", headers={"Content-Type": "text/plain; charset=utf-8"}, body=text)
    assert reply.json()["sha256"] == hashlib.sha256(text).hexdigest()  # type: ignore[index]


def test_binary_response_arrives_byte_for_byte(probe: Transport) -> None:
    reply = probe.get("/binary")
    assert reply.headers.get("content-type") == "application/octet-stream"
    assert reply.body == BINARY


def test_compressed_response_arrives_unaltered(probe: Transport) -> None:
    reply = probe.get("/gzip")
    assert reply.headers.get("content-encoding") == "gzip"
    assert reply.body == GZIPPED


def test_empty_response_has_no_body(probe: Transport) -> None:
    reply = probe.get("/empty")
    assert reply.status == 204
    assert reply.body == b""


@pytest.mark.parametrize("field", sorted(UNSENDABLE))
def test_a_header_no_runtime_sends_added_after_the_response_is_a_500_problem(
    probe: Transport, field: str
) -> None:
    reply = probe.get(f"/headers/unsendable?field={field}")
    assert reply.status == 500
    assert reply.headers.get("content-type") == "application/problem+json"
    problem = reply.json()
    assert isinstance(problem, dict)
    assert problem["status"] == 500
    assert problem["request_id"] == reply.headers.get("x-request-id")
    assert "x-note" not in reply.headers and "x note" not in reply.headers
    assert "set-cookie" not in reply.headers
