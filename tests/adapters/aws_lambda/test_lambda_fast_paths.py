"""The shortcuts in event translation against the loops they stand in for (copied here
as they were): the same headers in, the same result out, whichever path is taken."""

from __future__ import annotations

import random
from typing import Any

import pytest
from daloy_edge_aws_lambda import _encoding
from daloy_edge_aws_lambda._encoding import _is_text, encode_body
from daloy_edge_aws_lambda._events import (
    _MAX_COOKIES,
    _alb_result,
    _cookie_header_name,
    _grouped,
    _http_v2_result,
    _multi_value_headers,
)

from daloy_edge import Headers, Response


def _old_multi_value_headers(source: dict[str, Any]) -> Headers:
    pairs = []
    for name, values in source.items():
        if isinstance(values, str):
            pairs.append((name, values))
        elif values:
            pairs.extend((name, value) for value in values if value is not None)
    return Headers(pairs)


def _old_grouped(response: Response, body: bytes) -> tuple[dict[str, list[str]], str, bool]:
    grouped: dict[str, list[str]] = {}
    content_type: str | None = None
    encoded = False
    for name, value in response.headers.items():
        values = grouped.get(name)
        if values is None:
            grouped[name] = [value]
        else:
            values.append(value)
        if name == "content-type":
            content_type = value
        elif name == "content-encoding":
            encoded = True
    text, is_base64 = encode_body(body, content_type, encoded)
    return grouped, text, is_base64


def _old_http_v2_headers(response: Response) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in response.headers.items():
        if name == "set-cookie":
            cookies.append(value)
        elif name in headers:
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    return headers, cookies


def _old_alb_headers(response: Response) -> dict[str, str]:
    headers: dict[str, str] = {}
    cookies = 0
    for name, value in response.headers.items():
        if name == "set-cookie":
            if cookies < _MAX_COOKIES:
                headers[_cookie_header_name(cookies)] = value
            cookies += 1
        elif name in headers:
            headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    return headers


_NAMES = ["content-type", "content-encoding", "set-cookie", "x-a", "vary", "cache-control"]
_VALUES = ["text/plain", "application/json", "image/png", "gzip", "a=1", "b=2", "x", ""]


def _responses(seed: int) -> list[Response]:
    rng = random.Random(seed)
    found = []
    for _ in range(400):
        fields = [(rng.choice(_NAMES), rng.choice(_VALUES)) for _ in range(rng.randint(0, 5))]
        body = rng.choice([b"", b"hello", b"\xff\xfe", b'{"a":1}'])
        response = Response(body)
        response.headers = Headers(fields)
        found.append(response)
    return found


@pytest.mark.parametrize("seed", [1, 2])
def test_results_match_the_loops(seed: int) -> None:
    for response in _responses(seed):
        body = response.body
        assert _grouped(response, body) == _old_grouped(response, body)
        headers, cookies = _old_http_v2_headers(response)
        result = _http_v2_result(response, body)
        assert (result["headers"], result["cookies"]) == (headers, cookies)
        assert list(result["headers"]) == list(headers)  # the order too
        alb = _alb_result(response, body)["headers"]
        assert alb == _old_alb_headers(response) and list(alb) == list(_old_alb_headers(response))


def test_multi_value_headers_match_the_loop() -> None:
    rng = random.Random(3)
    shapes: list[Any] = ["v", "", None, [], ["a"], ["a", None, "b"], [None], ["", "c"]]
    for _ in range(500):
        source = {
            rng.choice(["Host", "host", "X-Multi", "x-multi", "Cookie", "ACCEPT"]): rng.choice(
                shapes
            )
            for _ in range(rng.randint(0, 5))
        }
        assert _multi_value_headers(source).items() == _old_multi_value_headers(source).items()


def test_multi_value_headers_refuse_what_the_loop_refuses() -> None:
    with pytest.raises(TypeError):
        _old_multi_value_headers({"a": 5})
    with pytest.raises(TypeError):
        _multi_value_headers({"a": 5})


def test_the_text_verdict_memory_is_bounded_and_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_encoding, "_TEXT_BY_TYPE", {})
    monkeypatch.setattr(_encoding, "_TEXT_BY_TYPE_MAX", 3)
    types = [None, "text/html", "image/png", "application/json", "application/x+json", "x/y"]
    for _ in range(2):
        for content_type in types:
            text, is_base64 = encode_body(b"ok", content_type, False)
            assert is_base64 is not _is_text(content_type)
            assert text == ("b2s=" if is_base64 else "ok")
    assert 0 < len(_encoding._TEXT_BY_TYPE) <= 3
    # Compressed bodies are base64 whatever the remembered verdict.
    assert encode_body(b"ok", "text/html", True) == ("b2s=", True)


def test_echoed_content_types_do_not_keep_a_later_type_off_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_encoding, "_TEXT_BY_TYPE", {})
    for n in range(2 * _encoding._TEXT_BY_TYPE_MAX):
        encode_body(b"ok", f"application/x-echoed-{n}", False)
    encode_body(b"ok", "text/csv", False)
    assert _encoding._TEXT_BY_TYPE.get("text/csv") is True
