"""flask.Request to Request and back, on real Flask request objects."""

from __future__ import annotations

from pathlib import Path

import flask
import functions_framework
import pytest
from daloy_edge_gcp_functions import GCFHandler, handler, to_request

from daloy_edge import App, Request, Response

ROOT = Path(__file__).resolve().parents[3]
flask_app = flask.Flask("gcf-adapter-tests")


def test_client_is_remote_addr_not_forwarded_headers() -> None:
    with flask_app.test_request_context(
        "/x", environ_base={"REMOTE_ADDR": "203.0.113.9"}, headers={"X-Forwarded-For": "6.6.6.6"}
    ):
        assert to_request(flask.request).client == "203.0.113.9"


def test_raw_path_is_taken_from_the_request_line() -> None:
    with flask_app.test_request_context("/a/b", environ_overrides={"RAW_URI": "/a%2Fb?q=1"}):
        assert to_request(flask.request).raw_path == "/a%2Fb"


def test_query_string_is_passed_raw() -> None:
    with flask_app.test_request_context("/q?k=1&k=2&s=a%26b"):
        request = to_request(flask.request)
        assert request.query.get_all("k") == ["1", "2"]
        assert request.query.get("s") == "a&b"


def limited_app() -> App:
    app = App(max_body=16)

    @app.route("/upload", ["POST"])
    async def upload(request: Request) -> Response:
        return Response.json({"length": len(await request.body())})

    @app.get("/empty")
    async def empty(request: Request) -> Response:
        return Response.empty()

    @app.get("/text")
    async def text(request: Request) -> str:
        return "hello"

    @app.get("/stream")
    async def stream(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            yield b"one,"
            yield b"two"

        return Response(stream=parts(), media_type="text/plain")

    return app


def test_body_over_the_limit_is_413() -> None:
    gcf = handler(limited_app())
    with flask_app.test_request_context("/upload", method="POST", data=b"x" * 1000):
        assert gcf(flask.request).status_code == 413


def test_body_within_the_limit_is_read() -> None:
    gcf = handler(limited_app())
    with flask_app.test_request_context("/upload", method="POST", data=b"x" * 10):
        assert gcf(flask.request).get_json() == {"length": 10}


def test_response_gets_no_default_html_content_type() -> None:
    gcf = handler(limited_app())
    with flask_app.test_request_context("/empty"):
        response = gcf(flask.request)
    assert response.status_code == 204
    assert "Content-Type" not in response.headers


def served(gcf: GCFHandler) -> flask.testing.FlaskClient:
    app = flask.Flask("gcf-served")
    app.add_url_rule("/<path:p>", "all", lambda p: gcf(flask.request), methods=["GET", "HEAD"])
    return app.test_client()


def test_head_of_a_streamed_get_states_no_length() -> None:
    response = served(handler(limited_app())).head("/stream")
    assert response.status_code == 200
    assert "Content-Length" not in response.headers


def test_head_states_the_length_of_the_get_body() -> None:
    client = served(handler(limited_app()))
    assert client.head("/text").headers["Content-Length"] == "5"


@pytest.fixture(scope="module")
def framework_client() -> flask.testing.FlaskClient:
    source = ROOT / "tests" / "conformance" / "probe_app.py"
    return functions_framework.create_app("gcf_handler", str(source)).test_client()


def test_flask_static_route_is_handed_to_the_app(
    framework_client: flask.testing.FlaskClient,
) -> None:
    response = framework_client.get("/static/anything.css")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_paths_flask_cannot_route_reach_the_app(
    framework_client: flask.testing.FlaskClient,
) -> None:
    response = framework_client.get("/robots.txt")
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"]
