"""Results written back in each shape: cookies, repeated headers, base64 bodies."""

from __future__ import annotations

import base64
import gzip

import pytest
from daloy_edge_aws_lambda import handler

from daloy_edge import App, Request, Response
from daloy_edge.types import CallNext
from tests.conformance.harness.gateways import recorded


def cookie_app() -> App:
    app = App()

    @app.get("/path/to/resource")
    async def two_cookies(request: Request) -> Response:
        response = Response.json({"ok": True})
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        response.headers.add("vary", "origin")
        response.headers.add("vary", "cookie")
        return response

    @app.get("/binary")
    async def binary(request: Request) -> Response:
        return Response(b"\x00\xff\x10", media_type="image/png")

    @app.get("/gzip")
    async def gzipped(request: Request) -> Response:
        return Response(
            gzip.compress(b"hello", mtime=0),
            headers={"content-encoding": "gzip"},
            media_type="text/plain",
        )

    @app.get("/latin")
    async def latin(request: Request) -> Response:
        return Response("caf\u00e9".encode("latin-1"), media_type="text/plain")

    @app.get("/chunked")
    async def chunked(request: Request) -> Response:
        return Response(b"whole", headers={"transfer-encoding": "chunked"}, media_type="text/plain")

    @app.get("/misstated")
    async def misstated(request: Request) -> Response:
        return Response(b"hello", headers=[("content-length", "3"), ("content-length", "5")])

    @app.get("/no-content")
    async def no_content(request: Request) -> Response:
        return Response(b"content", 204)

    @app.get("/contentless")
    async def contentless(request: Request) -> Response:
        status, _, length = request.query["answer"].partition(":")
        return Response(b"", int(status), headers={"content-length": length})

    @app.get("/rewritten", middleware=[set_body_from_query])
    async def rewritten(request: Request) -> dict[str, bool]:
        return {"ok": True}

    return app


async def set_body_from_query(request: Request, call_next: CallNext) -> Response:
    """Middleware that replaces the body after the Response was made."""
    response = await call_next(request)
    response.body = {"str": "caf\u00e9", "dict": {"ok": True}}[request.query["as"]]  # type: ignore[assignment]
    return response


def invoke(
    shape: str, path: str = "/path/to/resource", query: str = "", method: str = "GET"
) -> dict[str, object]:
    event = recorded(shape)
    event["body"] = None
    event["isBase64Encoded"] = False
    if shape in ("http-v2", "function-url"):
        event["rawPath"] = path
        event["rawQueryString"] = query
        event["requestContext"]["http"]["method"] = method
    else:
        event["path"] = path
        event["httpMethod"] = method
        name, _, value = query.partition("=")
        event["queryStringParameters"] = {name: value} if query else None
        event["multiValueQueryStringParameters"] = {name: [value]} if query else None
    return handler(cookie_app())(event, None)


def test_rest_v1_puts_every_set_cookie_in_multi_value_headers() -> None:
    result = invoke("rest-v1")
    cookies = result["multiValueHeaders"]["set-cookie"]  # type: ignore[index]
    assert [c.split(";")[0] for c in cookies] == ["a=1", "b=2"]


@pytest.mark.parametrize("shape", ["http-v2", "function-url"])
def test_http_v2_puts_every_set_cookie_in_the_cookies_field(shape: str) -> None:
    result = invoke(shape)
    assert [c.split(";")[0] for c in result["cookies"]] == ["a=1", "b=2"]  # type: ignore[union-attr]
    assert "set-cookie" not in result["headers"]  # type: ignore[operator]


def test_http_v2_joins_other_repeated_headers_with_commas() -> None:
    assert invoke("http-v2")["headers"]["vary"] == "origin, cookie"  # type: ignore[index]


def test_alb_multi_value_puts_every_set_cookie_in_multi_value_headers() -> None:
    result = invoke("alb-multi")
    assert len(result["multiValueHeaders"]["set-cookie"]) == 2  # type: ignore[index]
    assert result["statusDescription"] == "200 OK"


def test_alb_single_value_sends_each_set_cookie_under_a_differently_cased_name() -> None:
    headers = invoke("alb")["headers"]
    names = [name for name in headers if name.lower() == "set-cookie"]  # type: ignore[union-attr]
    assert len(names) == 2 and len(set(names)) == 2
    assert sorted(headers[n].split(";")[0] for n in names) == ["a=1", "b=2"]  # type: ignore[index]


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "alb", "alb-multi"])
def test_binary_response_is_base64(shape: str) -> None:
    result = invoke(shape, "/binary")
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == b"\x00\xff\x10"  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "alb", "alb-multi"])
def test_compressed_text_response_is_base64(shape: str) -> None:
    result = invoke(shape, "/gzip")
    assert result["isBase64Encoded"] is True
    assert gzip.decompress(base64.b64decode(result["body"])) == b"hello"  # type: ignore[arg-type]


def test_text_that_is_not_utf8_is_sent_as_base64_not_mangled() -> None:
    result = invoke("http-v2", "/latin")
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == "caf\u00e9".encode("latin-1")  # type: ignore[arg-type]


def test_json_response_is_plain_text() -> None:
    result = invoke("http-v2")
    assert result["isBase64Encoded"] is False
    assert result["body"] == '{"ok":true}'


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "function-url", "alb", "alb-multi"])
def test_content_given_to_a_204_is_not_put_in_the_result(shape: str) -> None:
    result = invoke(shape, "/no-content")
    assert (result["statusCode"], result["body"]) == (204, "")


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "function-url", "alb", "alb-multi"])
def test_a_handlers_transfer_encoding_is_not_passed_to_the_service(shape: str) -> None:
    result = invoke(shape, "/chunked")
    headers = result.get("headers") or result["multiValueHeaders"]
    assert "transfer-encoding" not in headers  # type: ignore[operator]
    assert result["body"] == "whole"


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "function-url", "alb", "alb-multi"])
def test_a_handlers_content_length_is_not_passed_over_a_body_of_another_length(shape: str) -> None:
    # Passed on, "3" (or "3, 5") framed a 5-byte body for whoever reads the result, and
    # the GET said another length than the HEAD of the same route.
    lengths = []
    for method in ("GET", "HEAD"):
        result = invoke(shape, "/misstated", method=method)
        headers = result.get("headers") or result["multiValueHeaders"]
        lengths.append(headers["content-length"])  # type: ignore[index]
    assert lengths[0] == lengths[1] and lengths[0] in ("5", ["5"])


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "function-url", "alb", "alb-multi"])
@pytest.mark.parametrize(
    "answer",
    ["200:999", "200:abc", "205:3", "304:3"],
    ids=["empty-body", "empty-body-no-length", "reset-content", "not-modified"],
)
def test_a_handlers_content_length_is_not_passed_over_no_content(shape: str, answer: str) -> None:
    # Taken for a HEAD answer's length, "999" framed bytes that never came for whoever
    # reads the result; uvicorn and functions-framework state 0 or nothing.
    result = invoke(shape, "/contentless", f"answer={answer}")
    headers = result.get("headers") or result["multiValueHeaders"]
    assert result["body"] == ""
    assert headers.get("content-length") in (None, "0", ["0"])  # type: ignore[union-attr]


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "function-url", "alb", "alb-multi"])
def test_a_str_body_middleware_sets_is_sent_not_a_failed_invocation(shape: str) -> None:
    result = invoke(shape, "/rewritten", "as=str")
    assert (result["statusCode"], result["body"]) == (200, "caf\u00e9")


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "alb"])
def test_a_dict_body_middleware_sets_is_a_500_problem_not_a_failed_invocation(shape: str) -> None:
    result = invoke(shape, "/rewritten", "as=dict")
    assert result["statusCode"] == 500
    assert "internal-error" in str(result["body"])
