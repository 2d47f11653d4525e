"""The adapter in real Pyodide: JS Request in, JS Response out, through the workers SDK."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.support.workers import HELD_REQUEST_CONTEXTS, PyodideHarness, WorkerResponse

pytestmark = pytest.mark.slow

ENTRY = "adapter_worker:Default"
ENV = {"GREETING": "hello", "SECRET_TOKEN": "s3cret", "MAX_BODY": "1024"}


def logged(response: WorkerResponse, method: str) -> list[str]:
    """The lines the Worker wrote at ``console.<method>``."""
    return [text for level, text in response.console if level == method]


def call(
    harness: PyodideHarness,
    method: str,
    path: str,
    *,
    isolate: str = "adapter",
    entry: str = ENTRY,
    **kwargs: object,
) -> WorkerResponse:
    return harness.fetch(
        method,
        f"https://worker.example{path}",
        entry=entry,
        isolate=isolate,
        env=ENV,
        bindings=["KV"],
        **kwargs,  # type: ignore[arg-type]
    )


def test_every_set_cookie_reaches_the_client(workers_harness: PyodideHarness) -> None:
    response = call(workers_harness, "GET", "/cookies")
    cookies = response.get_all("set-cookie")
    assert [c.split(";")[0] for c in cookies] == ["a=1", "b=2", "c="]


def test_client_address_comes_from_cf_connecting_ip(workers_harness: PyodideHarness) -> None:
    response = call(
        workers_harness, "GET", "/request", headers=[("cf-connecting-ip", "2001:db8::7")]
    )
    assert response.json()["client"] == "2001:db8::7"


def test_spoofed_x_forwarded_for_does_not_set_the_client(workers_harness: PyodideHarness) -> None:
    response = call(
        workers_harness,
        "GET",
        "/request",
        headers=[("cf-connecting-ip", "198.51.100.4"), ("x-forwarded-for", "127.0.0.1")],
    )
    data = response.json()
    assert data["client"] == "198.51.100.4" and data["client_ip"] == "198.51.100.4"


def test_malformed_cf_connecting_ip_gives_no_client(workers_harness: PyodideHarness) -> None:
    response = call(
        workers_harness, "GET", "/request", headers=[("cf-connecting-ip", "127.0.0.1, 10.0.0.1")]
    )
    assert response.json()["client"] is None


def test_path_query_host_and_scheme_come_from_the_request_url(
    workers_harness: PyodideHarness,
) -> None:
    data = call(workers_harness, "GET", "/request?q=1&q=two").json()
    assert (data["raw_path"], data["query"]) == ("/request", ["1", "two"])
    assert (data["host"], data["scheme"], data["runtime"]) == (
        "worker.example",
        "https",
        "cloudflare",
    )


def test_body_is_read_from_the_js_request(workers_harness: PyodideHarness) -> None:
    response = call(workers_harness, "POST", "/upload", body=b"payload-" * 50)
    assert response.json() == {"bytes": 400, "head": "payload-"}


def test_request_without_body_reads_empty(workers_harness: PyodideHarness) -> None:
    assert call(workers_harness, "GET", "/upload").json() == {"bytes": 0, "head": ""}


def test_streamed_body_within_the_limit_is_read_whole(workers_harness: PyodideHarness) -> None:
    response = call(workers_harness, "POST", "/upload", chunks=[b"y" * 300] * 3)
    assert response.json()["bytes"] == 900 and response.pulled == 3


def test_streamed_body_past_the_limit_is_413_without_reading_the_rest(
    workers_harness: PyodideHarness,
) -> None:
    response = call(workers_harness, "POST", "/upload", chunks=[b"y" * 300] * 40)
    assert response.status == 413
    assert response.pulled <= 5


def test_upload_dropped_mid_body_is_400_problem(workers_harness: PyodideHarness) -> None:
    response = call(workers_harness, "POST", "/upload", chunks=[b"y" * 300] * 3, error_after=1)
    assert response.status == 400
    assert response.header("content-type") == "application/problem+json"


def test_declared_content_length_past_the_limit_is_413_before_any_read(
    workers_harness: PyodideHarness,
) -> None:
    response = call(
        workers_harness,
        "POST",
        "/upload",
        chunks=[b"y" * 300] * 40,
        headers=[("content-length", "12000")],
    )
    assert response.status == 413 and response.pulled == 0


def test_string_bindings_configure_the_app(workers_harness: PyodideHarness) -> None:
    data = call(workers_harness, "GET", "/env").json()
    assert data["greeting"] == "hello" and data["same_as_app"] is True
    assert data["names"] == sorted(ENV)


def test_non_string_bindings_stay_reachable_but_out_of_the_mapping(
    workers_harness: PyodideHarness,
) -> None:
    data = call(workers_harness, "GET", "/env").json()
    assert "KV" not in data["names"] and data["kv"] == "JsProxy"


def test_app_is_built_once_per_isolate(workers_harness: PyodideHarness) -> None:
    for _ in range(3):
        data = call(workers_harness, "GET", "/env", isolate="build-once").json()
    assert data["built"] == ["hello"]


def test_wait_until_keeps_deferred_work_running_after_the_response(
    workers_harness: PyodideHarness,
) -> None:
    first = call(workers_harness, "GET", "/defer", isolate="deferred")
    assert "deferred" not in first.json()["done"]
    assert first.deferred == ["fulfilled", "fulfilled"]
    after = call(workers_harness, "GET", "/done", isolate="deferred").json()
    assert "deferred" in after["done"]


def test_flush_runs_under_wait_until_after_each_response(workers_harness: PyodideHarness) -> None:
    call(workers_harness, "GET", "/done", isolate="flush")
    response = call(workers_harness, "GET", "/done", isolate="flush")
    assert response.json()["done"] == ["flushed"] and response.deferred == ["fulfilled"]


def test_null_body_status_has_no_body(workers_harness: PyodideHarness) -> None:
    response = call(workers_harness, "DELETE", "/nothing")
    assert response.status == 204 and response.body == b""


def test_streamed_response_reaches_the_client_whole(workers_harness: PyodideHarness) -> None:
    response = call(workers_harness, "GET", "/stream")
    assert response.status == 200 and response.body == b"one,two,three"


def test_a_stream_that_fails_after_its_first_chunk_is_a_500_problem(
    workers_harness: PyodideHarness,
) -> None:
    # Read after the app had answered, the stream's error failed the fetch handler.
    response = call(workers_harness, "GET", "/stream-fails")
    assert response.status == 500
    assert response.header("content-type") == "application/problem+json"
    assert b"internal detail" not in response.body


def test_an_encoded_body_is_sent_as_is_not_compressed_again(
    workers_harness: PyodideHarness,
) -> None:
    # workerd encodes bodies itself per Content-Encoding unless told "manual".
    response = call(workers_harness, "GET", "/gzipped")
    assert response.encode_body == "manual"
    assert gzip.decompress(response.body) == b"already compressed " * 20


def test_a_plain_body_leaves_encoding_to_the_runtime(workers_harness: PyodideHarness) -> None:
    assert call(workers_harness, "GET", "/stream").encode_body == "automatic"


def test_module_level_on_fetch_serves_the_raw_js_request(workers_harness: PyodideHarness) -> None:
    response = call(
        workers_harness,
        "GET",
        "/request",
        entry="adapter_worker:on_fetch",
        headers=[("cf-connecting-ip", "192.0.2.1")],
    )
    assert response.status == 200 and response.json()["client"] == "192.0.2.1"


def test_fetch_is_the_default_transport_inside_a_worker(workers_harness: PyodideHarness) -> None:
    assert call(workers_harness, "GET", "/transport").json() == {"default": "FetchTransport"}


def test_a_handlers_transfer_encoding_is_not_passed_to_the_runtime(
    workers_harness: PyodideHarness,
) -> None:
    # "chunked" over a body that is not frames it two ways for whoever reads it; the
    # ASGI, Functions Framework and Lambda adapters never send it either.
    response = call(workers_harness, "GET", "/chunked")
    assert response.status == 200 and response.body == b"whole"
    assert response.header("transfer-encoding") is None


def test_a_handlers_content_length_over_a_body_is_not_passed_to_the_runtime(
    workers_harness: PyodideHarness,
) -> None:
    # "3" over five bytes framed the body two ways, and the GET said 3 where the HEAD
    # of the same route, stated from the body, said 5.
    response = call(workers_harness, "GET", "/misstated")
    assert response.status == 200 and response.body == b"hello"
    assert response.header("content-length") in (None, "5")
    assert call(workers_harness, "HEAD", "/misstated").header("content-length") == "5"


@pytest.mark.parametrize(
    "answer", ["200:999", "205:3", "304:3"], ids=["empty-body", "reset-content", "not-modified"]
)
def test_a_handlers_content_length_is_not_passed_over_no_content(
    workers_harness: PyodideHarness, answer: str
) -> None:
    # Taken for a HEAD answer's length, "999" went to the runtime over no body at all;
    # uvicorn and functions-framework state 0 or nothing for the same route.
    response = call(workers_harness, "GET", f"/contentless?answer={answer}")
    assert response.body == b""
    assert response.header("content-length") in (None, "0")


@pytest.mark.parametrize("field", ["value", "name"])
def test_a_header_the_fetch_api_refuses_is_a_500_problem_not_a_thrown_error(
    workers_harness: PyodideHarness, field: str
) -> None:
    # The JS Response constructor threw into the runtime: its error page, no request id.
    response = call(workers_harness, "GET", f"/late-header?field={field}")
    assert response.status == 500
    assert response.header("content-type") == "application/problem+json"
    assert response.header("x-request-id") == response.json()["request_id"]


def test_a_header_the_fetch_api_refuses_is_logged_as_500_without_its_value(
    workers_harness: PyodideHarness,
) -> None:
    response = call(workers_harness, "GET", "/late-header?field=value")
    line = json.loads(logged(response, "error")[-1])
    assert line["Attributes"]["http.response.status_code"] == 500
    assert "x-token" in line["Attributes"]["exception.message"]
    assert "s3cret" not in "\n".join([*response.stdout, *logged(response, "error")])


def test_a_5xx_request_line_is_logged_at_console_error_for_workers_issues(
    workers_harness: PyodideHarness,
) -> None:
    response = call(workers_harness, "GET", "/late-header?field=value")
    assert [json.loads(text)["SeverityText"] for text in logged(response, "error")] == ["ERROR"]
    assert not any('"SeverityText":"ERROR"' in text for text in response.stdout)


def test_a_4xx_request_line_is_logged_at_console_warn_not_log(
    workers_harness: PyodideHarness,
) -> None:
    response = call(workers_harness, "GET", "/no-such-route")
    assert response.status == 404
    (text,) = logged(response, "warn")
    assert json.loads(text)["Attributes"]["http.response.status_code"] == 404
    assert response.stdout == []


def test_a_2xx_request_line_stays_on_stdout_at_console_log(
    workers_harness: PyodideHarness,
) -> None:
    response = call(workers_harness, "GET", "/done")
    assert response.status == 200
    assert json.loads(response.stdout[-1])["SeverityText"] == "INFO"
    assert response.console == []


@pytest.mark.parametrize("kind", ["exit", "interrupt", "generator-exit", "group"])
def test_a_handler_raising_past_exception_is_a_500_problem_and_the_isolate_serves_on(
    workers_harness: PyodideHarness, kind: str
) -> None:
    # The defaults page: sys.exit(), KeyboardInterrupt, GeneratorExit and a group of them
    # are a 500 like any bug on every runtime, and a request never ends what serves it.
    response = call(workers_harness, "GET", f"/raises?kind={kind}")
    assert response.status == 500
    assert response.header("content-type") == "application/problem+json"
    assert json.loads(response.body)["status"] == 500
    assert call(workers_harness, "GET", "/cookies").status == 200


def test_an_app_whose_factory_failed_is_built_again_on_the_next_request(
    workers_harness: PyodideHarness,
) -> None:
    entry = "adapter_worker:FailingFirst"
    first = call(workers_harness, "GET", "/done", entry=entry, isolate="failing-first")
    second = call(workers_harness, "GET", "/done", entry=entry, isolate="failing-first")
    assert (first.status, second.status) == (503, 200)


WIDE_HOP_BOUND = """
import sys

from daloy_edge import Headers, Request
from daloy_edge.middleware.client_ip import TrustedProxies, TrustedProxiesConfig


async def main():
    lines = Headers([("forwarded", "for=198.51.100.7, for=10.0.0.1")])
    found = [sys.maxsize]
    for bound in (2**31, float("inf")):
        config = TrustedProxiesConfig(proxies=("10.0.0.0/8",), header="forwarded", max_hops=bound)
        request = Request("GET", "/", headers=lines, client="10.0.0.2")
        found.append(TrustedProxies(config).resolve(request))
    return found
"""


def test_a_hop_bound_past_pyodides_32_bit_word_still_resolves_forwarded(
    workers_harness: PyodideHarness,
) -> None:
    # Pyodide's word is 32 bits: a Forwarded header was cut with a str.rsplit count of
    # max_hops + 1, or 2**62 for a bound that is no int, and either raised OverflowError
    # (a 500 for every request that carried one) from max_hops=2**31 or float("inf").
    assert workers_harness.run(WIDE_HOP_BOUND) == [2**31 - 1, "198.51.100.7", "198.51.100.7"]


def test_an_answered_request_leaves_no_timer_holding_its_context(
    workers_harness: PyodideHarness,
) -> None:
    # Pyodide's loop keeps a cancelled timer (and its JS setTimeout) until its time: the
    # deadline timer of every request that waited held a copy of the request's context
    # (its log record, any context variable the app set) for the whole request_timeout
    # after the answer, so an isolate under load kept rate x timeout of them.
    # Counted by request id: earlier tests in this isolate may leave their own handles
    # (an outbound call's timeout holds its context until its time, as documented).
    for number in range(20):
        answer = call(
            workers_harness,
            "POST",
            "/upload",
            chunks=[b"y" * 300] * 2,
            headers={"x-request-id": f"held-probe-{number}"},
        )
        assert answer.status == 200
        assert ("x-request-id", f"held-probe-{number}") in answer.headers
    assert workers_harness.run(HELD_REQUEST_CONTEXTS) == 0
