"""flask.Request to Request and back, on real Flask request objects."""

from __future__ import annotations

import asyncio
import gc
import gzip
import io
import json
import os
import threading
import weakref
from pathlib import Path

import flask
import functions_framework
import pytest
from daloy_edge_gcp_functions import GCFHandler, handler, to_request

from daloy_edge import App, PayloadTooLarge, Request, Response
from tests.support.startup import failing_first_startup
from tests.support.streams import Cursor
from tests.support.thread_limit import SKIP_REASON, run_script

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


def test_a_decoded_path_is_not_decoded_a_second_time() -> None:
    # A server that names no request line gives only PATH_INFO, decoded once: its "%41"
    # was sent as "%2541", and read as a raw path again it became "A".
    with flask_app.test_request_context("/a%2541/b%25") as context:
        del context.request.environ["RAW_URI"], context.request.environ["REQUEST_URI"]
        assert to_request(flask.request).path == "/a%41/b%"


def test_query_string_is_passed_raw() -> None:
    with flask_app.test_request_context("/q?k=1&k=2&s=a%26b"):
        request = to_request(flask.request)
        assert request.query.get_all("k") == ["1", "2"]
        assert request.query.get("s") == "a&b"


def test_lowercase_delete_never_reaches_the_delete_route() -> None:
    # Werkzeug upper-cases request.method; a proxy rule denying DELETE forwards "delete",
    # which must not run the DELETE route (the Flask development server passes it on).
    app = App()
    deleted: list[bool] = []

    @app.delete("/items/1")
    async def delete(request: Request) -> Response:
        deleted.append(True)
        return Response.empty()

    with flask_app.test_request_context("/items/1", method="delete"):
        response = handler(app)(flask.request)
    assert response.status_code == 400
    assert not deleted


def test_failed_startup_is_a_503_problem_and_the_next_request_starts_again() -> None:
    app = App()
    runs = failing_first_startup(app)

    @app.get("/ok")
    async def ok(request: Request) -> dict[str, bool]:
        return {"ok": True}

    gcf_handler = handler(app)
    with flask_app.test_request_context("/ok"):
        refused = gcf_handler(flask.request)
    with flask_app.test_request_context("/ok"):
        served = gcf_handler(flask.request)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.mimetype == "application/problem+json"
    assert served.status_code == 200 and len(runs) == 2


def test_the_first_request_is_not_kept_by_the_loop_made_to_serve_it() -> None:
    # The loop made for the first request copied Flask's request context: that
    # request, its Authorization header and body, stayed in memory for the life of
    # the instance, and its app, handler and runner with it in one cycle.
    app = App()

    @app.get("/ok")
    async def ok(request: Request) -> dict[str, bool]:
        return {"ok": True}

    gcf_handler = handler(app)
    with flask_app.test_request_context("/ok", headers={"authorization": "Bearer first"}):
        first = weakref.ref(flask.request._get_current_object())  # type: ignore[attr-defined]
        assert gcf_handler(flask.request).status_code == 200
    gc.collect()
    assert first() is None


async def test_a_request_from_an_async_test_is_served_and_leaves_its_loop_running() -> None:
    # The failure: an async test calling the function (Flask's test client) got Flask's
    # bare HTML 500, with no problem, no log line and the app's coroutine never awaited:
    # the worker's event loop refused to run beside the test's ("Cannot run the event
    # loop while another loop is running"). Start-up hooks failed alike.
    app = App()
    started: list[bool] = []

    @app.on_startup
    async def start() -> None:
        started.append(True)

    @app.get("/wait")
    async def wait(request: Request) -> dict[str, bool]:
        await asyncio.sleep(0)
        return {"ok": True}

    caller = asyncio.get_running_loop()
    response = served(handler(app)).get("/wait")
    assert response.status_code == 200 and response.json == {"ok": True}
    assert started == [True]
    assert asyncio.get_running_loop() is caller


def test_a_worker_threads_event_loop_is_closed_when_the_thread_ends() -> None:
    # A server running each request on a thread of its own (functions-framework --debug,
    # Werkzeug's development server) kept every past request's loop open until the
    # collector found it: a selector, a wake-up socket pair and an executor thread each.
    app = App()
    loops: list[asyncio.AbstractEventLoop] = []

    @app.get("/wait")
    async def wait(request: Request) -> dict[str, bool]:
        loops.append(asyncio.get_running_loop())
        await asyncio.to_thread(int)
        return {"ok": True}

    gcf_handler = handler(app)
    statuses: list[int] = []

    def serve() -> None:
        with flask_app.test_request_context("/wait"):
            statuses.append(gcf_handler(flask.request).status_code)

    serve()
    descriptors = len(os.listdir("/proc/self/fd"))
    for _ in range(30):
        thread = threading.Thread(target=serve)
        thread.start()
        thread.join()
    assert statuses == [200] * 31
    assert [loop.is_closed() for loop in loops[1:]] == [True] * 30
    assert len(os.listdir("/proc/self/fd")) < descriptors + 10


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

    @app.get("/stream-fails")
    async def stream_fails(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            yield b"one,"
            raise RuntimeError("internal detail /srv/app.py")

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


class FailingStream(io.RawIOBase):
    """Fails as the server's body reader does on a malformed chunked body (gunicorn
    raises its own parse errors from ``read``)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        raise ValueError("Invalid chunk size")


def test_malformed_body_stream_is_a_400_problem() -> None:
    gcf = handler(limited_app())
    environ = {"wsgi.input": FailingStream(), "CONTENT_LENGTH": "10"}
    with flask_app.test_request_context("/upload", method="POST", environ_overrides=environ):
        response = gcf(flask.request)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_a_body_in_a_transfer_coding_left_undecoded_is_a_400() -> None:
    # gunicorn accepts "Transfer-Encoding: gzip, chunked" and passes the gzip data on
    # as it came: the app read compressed bytes as the content (uvicorn answers 400).
    gcf = handler(limited_app())
    environ = {
        "wsgi.input": io.BytesIO(gzip.compress(b"x")),
        "wsgi.input_terminated": True,
        "HTTP_TRANSFER_ENCODING": "gzip,chunked",
    }
    with flask_app.test_request_context("/upload", method="POST", environ_overrides=environ):
        response = gcf(flask.request)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


class CountingStream(io.RawIOBase):
    """A large body that counts what is read from it."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        self.read_bytes += n
        return n


def test_rest_of_a_refused_body_is_not_read_after_the_response() -> None:
    # The attack: a huge upload to a limited route. functions-framework reads whatever
    # the function left unread after every response (read_request, an after_request
    # hook), which held the whole upload in memory past the 413.
    app = flask.Flask("gcf-after-request")
    gcf = handler(limited_app())
    app.add_url_rule("/upload", "upload", lambda: gcf(flask.request), methods=["POST"])
    app.after_request(functions_framework.read_request)
    body = CountingStream(10 * 1024 * 1024)
    environ = {"wsgi.input": body, "CONTENT_LENGTH": str(body.left)}
    response = app.test_client().post("/upload", environ_overrides=environ)
    assert response.status_code == 413
    assert body.read_bytes <= 256 * 1024


def test_a_second_read_of_a_refused_body_does_not_read_its_tail_as_the_body() -> None:
    # The first read stops at the limit, where the socket stream stands: read again, the
    # rest of an oversized upload passed for a whole body within the limit.
    app = App(max_body=16)

    @app.post("/retry")
    async def retry(request: Request) -> Response:
        with pytest.raises(PayloadTooLarge):
            await request.body()
        return Response.json({"length": len(await request.body())})

    environ = {
        "wsgi.input": io.BytesIO(b"x" * (64 * 1024 + 5)),
        "wsgi.input_terminated": True,
        "HTTP_TRANSFER_ENCODING": "chunked",
    }
    with flask_app.test_request_context("/retry", method="POST", environ_overrides=environ):
        response = handler(app)(flask.request)
    assert response.status_code == 413


def test_a_stream_that_fails_after_its_first_chunk_is_a_500_problem() -> None:
    # Read after the app had answered, the stream's error reached Flask, which answered
    # its own HTML 500 without the app's headers.
    gcf = handler(limited_app())
    with flask_app.test_request_context("/stream-fails"):
        response = gcf(flask.request)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert b"internal detail" not in response.get_data()


@pytest.mark.parametrize(
    "error",
    [
        SystemExit(2),
        KeyboardInterrupt(),
        GeneratorExit(),
        BaseExceptionGroup("group", [KeyboardInterrupt()]),
        asyncio.CancelledError(),
    ],
    ids=["exit", "interrupt", "generator-exit", "group", "cancelled"],
)
def test_a_handler_raising_past_exception_is_a_500_problem_not_the_workers_end(
    error: BaseException,
) -> None:
    # The defaults page: sys.exit() (argparse or click reading client input) and the rest
    # are a 500 like any bug on every runtime. Let through, they reached gunicorn's worker.
    app = App(env={})

    @app.get("/raises")
    async def raises(request: Request) -> Response:
        raise error

    gcf = handler(app)
    for _ in range(2):
        with flask_app.test_request_context("/raises"):
            response = gcf(flask.request)
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"


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


def test_status_line_carries_the_reason_phrase_other_servers_send() -> None:
    # Werkzeug spells it from an int in capitals: "429 TOO MANY REQUESTS", "418 I'M A
    # TEAPOT", where uvicorn and gunicorn's own answers say "429 Too Many Requests".
    app = App()

    @app.get("/teapot")
    async def teapot(request: Request) -> Response:
        return Response(b"short and stout", status=418)

    client = served(handler(app))
    assert client.get("/teapot").status == "418 I'm a Teapot"
    assert client.get("/missing").status == "404 Not Found"


def framing_app() -> App:
    app = App()

    @app.get("/framed")
    async def framed(request: Request) -> Response:
        name = request.query.get("name") or "content-length"
        return Response(b"0123456789", headers={name: request.query.get("value") or "5"})

    return app


def test_a_content_length_set_by_the_handler_cannot_cut_the_body_short() -> None:
    response = served(handler(framing_app())).get("/framed")
    assert response.headers.get_all("Content-Length") == ["10"]
    assert response.data == b"0123456789"


def test_a_transfer_encoding_set_by_the_handler_is_not_sent() -> None:
    client = served(handler(framing_app()))
    response = client.get("/framed?name=transfer-encoding&value=chunked")
    assert "Transfer-Encoding" not in response.headers
    assert response.headers["Content-Length"] == "10"


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


def test_a_host_flask_cannot_route_reaches_the_app(
    framework_client: flask.testing.FlaskClient,
) -> None:
    # Flask's router refuses a Host it cannot IDNA-encode with its own HTML 400: no
    # secure headers, no request id, no request line.
    response = framework_client.get("/runtime", headers={"Host": "a..b"})
    assert response.headers["x-request-id"]
    assert "text/html" not in response.headers.get("content-type", "")


def test_options_on_flask_static_route_reaches_the_app(
    framework_client: flask.testing.FlaskClient,
) -> None:
    # Flask answered OPTIONS /static/... itself: a 200 HTML page without the app's
    # headers, CORS answer or path checks (OPTIONS /static/%2e%2e/x included).
    response = framework_client.options("/static/hello.txt")
    assert response.headers["x-request-id"]
    assert response.headers["content-type"] == "application/problem+json"


def test_an_absolute_form_target_without_a_path_reaches_the_app(
    framework_client: flask.testing.FlaskClient,
) -> None:
    # "GET http://host HTTP/1.1" gives an empty PATH_INFO, which Werkzeug's router
    # redirected with its own HTML 308: no secure headers, no request id, no log line.
    response = framework_client.get("http://localhost")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "location" not in response.headers


LOGGING_SOURCE = """
from daloy_edge import App
from daloy_edge_gcp_functions import handler

app = App(env={"GOOGLE_CLOUD_PROJECT": "shop-prod"})


@app.get("/boom")
async def boom(request):
    raise RuntimeError("database said password=hunter2-from-db")


gcf_handler = handler(app)
"""


def test_error_line_under_functions_framework_is_an_error_cloud_logging_and_error_reporting_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "main.py"
    source.write_text(LOGGING_SOURCE)
    client = functions_framework.create_app("gcf_handler", str(source)).test_client()
    capsys.readouterr()
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert client.get("/boom", headers={"traceparent": traceparent}).status_code == 500
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["severity"] == "ERROR"
    assert line["logging.googleapis.com/trace"] == (
        "projects/shop-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    )
    assert line["logging.googleapis.com/spanId"] == line["SpanId"]
    assert line["stack_trace"].startswith("Traceback (most recent call last):")
    assert "hunter2-from-db" not in json.dumps(line)


TWO_FUNCTIONS_SOURCE = """
from daloy_edge import App
from daloy_edge_gcp_functions import handler

users = App(env={}, name="users", request_log=False)
orders = App(env={}, name="orders", request_log=False)


@users.get("/robots.txt")
async def users_robots(request):
    return {"app": "users"}


@users.get("/static/{path:path}")
async def users_static(request):
    return {"app": "users"}


@orders.get("/{path:path}")
async def orders_any(request):
    return {"app": "orders"}


users_api = handler(users)
orders_api = handler(orders)


def plain(request):
    return "plain"
"""


@pytest.mark.parametrize("path", ["/robots.txt", "/favicon.ico", "/static/site.css"])
def test_paths_flask_would_answer_reach_the_served_function_not_the_first_handler_built(
    tmp_path: Path, path: str
) -> None:
    # One source file, a function deployed per entry point: deployed as orders_api,
    # these paths were answered by users_api's app, built first in the file (its
    # routes, its middleware, its request log).
    source = tmp_path / "main.py"
    source.write_text(TWO_FUNCTIONS_SOURCE)
    client = functions_framework.create_app("orders_api", str(source)).test_client()
    assert client.get(path).get_json() == {"app": "orders"}


def test_a_plain_function_served_beside_handlers_gets_flasks_own_answers(
    tmp_path: Path,
) -> None:
    source = tmp_path / "main.py"
    source.write_text(TWO_FUNCTIONS_SOURCE)
    client = functions_framework.create_app("plain", str(source)).test_client()
    assert client.get("/x").text == "plain"
    refused = client.get("/robots.txt")
    assert refused.status_code == 404
    assert "x-request-id" not in refused.headers


def test_a_body_past_what_cloud_run_delivers_is_a_500_problem_logged_as_one() -> None:
    # Cloud Run sends 32 MiB of a response that is not streamed: past it, the client got
    # the platform's own 500 after the request had been logged as a 200.
    from daloy_edge_gcp_functions._limits import MAX_RESPONSE_BODY

    from daloy_edge.observability import MemorySink, RequestLog

    sink = MemorySink()
    app = App(request_log=RequestLog(stdout=False, sinks=[sink]))

    @app.get("/export")
    async def export(request: Request) -> Response:
        size = int(request.query.get("size") or 0)
        return Response(b"x" * size, media_type="application/octet-stream")

    client = served(handler(app))
    refused = client.get(f"/export?size={MAX_RESPONSE_BODY + 1}")
    assert refused.status_code == 500
    assert refused.headers["content-type"] == "application/problem+json"
    sent = client.get(f"/export?size={MAX_RESPONSE_BODY}")
    assert sent.status_code == 200 and len(sent.data) == MAX_RESPONSE_BODY
    assert [record["Attributes"]["http.response.status_code"] for record in sink.records] == [
        500,
        200,
    ]


def cursor_app(cursor: Cursor, sink: object) -> App:
    from daloy_edge.observability import RequestLog

    app = App(env={}, request_log=RequestLog(stdout=False, sinks=[sink]))  # type: ignore[list-item]

    @app.get("/rows")
    async def rows(request: Request) -> Response:
        return Response(stream=cursor, media_type="text/plain")

    return app


def test_a_stream_read_whole_is_closed_once_read() -> None:
    # Read to its end and answered, the stream was never closed: a cursor or pooled
    # connection it held stayed held after every request (under ASGI the server's side
    # closes it once sent).
    from daloy_edge.observability import MemorySink

    cursor = Cursor()
    response = served(handler(cursor_app(cursor, MemorySink()))).get("/rows")
    assert (response.status_code, response.data) == (200, b"one,two")
    assert cursor.closes == 1


def test_a_stream_read_whole_that_fails_to_close_is_answered_with_the_failure_logged() -> None:
    from daloy_edge.observability import MemorySink

    sink, cursor = MemorySink(), Cursor(close_fails=True)
    response = served(handler(cursor_app(cursor, sink))).get("/rows")
    assert (response.status_code, response.data, cursor.closes) == (200, b"one,two", 1)
    (record,) = sink.records
    attributes = record["Attributes"]
    assert attributes["http.response.status_code"] == 200  # type: ignore[index]
    assert attributes["exception.type"] == "RuntimeError"  # type: ignore[index]
    assert "hunter2" not in sink.lines[0]


THREAD_LIMITED_BODY_READS = """
import socket, sys, threading
import functions_framework
from werkzeug.test import EnvironBuilder
from tests.support.thread_limit import become_limited_user, new_threads_again, no_new_threads

served = functions_framework.create_app("gcf_handler", sys.argv[1])
listener = socket.create_server(("127.0.0.1", 0))

def post(sent, watched=True):
    # A POST of 1,000 bytes on a real connection, gunicorn's socket named when watched.
    client = socket.create_connection(listener.getsockname())
    conn, _ = listener.accept()
    client.sendall(sent)
    environ = EnvironBuilder(path="/echo", method="POST").get_environ()
    environ.update({"wsgi.input": conn.makefile("rb"), "CONTENT_LENGTH": "1000"})
    if watched:
        environ["gunicorn.socket"] = conn
    # A guard, not a clock: a read nothing cuts ends when the client goes.
    gone = threading.Timer(20, client.close)
    if not sent:
        gone.start()
    statuses = []
    b"".join(served(environ, lambda status, headers, exc=None: statuses.append(status)))
    gone.cancel()
    client.close()
    conn.close()
    return statuses[0].split()[0]

answers = [post(b"x" * 1000, watched=False)]  # imports all it needs while it may
become_limited_user()
no_new_threads()
answers.append(post(b"x" * 1000))
new_threads_again()
answers.append(post(b""))
print(" ".join(answers))
"""

BODY_READ_APP = """
from daloy_edge import App, Request
from daloy_edge_gcp_functions import handler

app = App(request_timeout=0.3)

@app.post("/echo")
async def echo(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}

gcf_handler = handler(app)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason=SKIP_REASON)
def test_a_body_read_at_the_thread_limit_is_a_503_and_later_slow_bodies_are_still_cut_off(
    tmp_path: Path,
) -> None:
    # The failure: the deadline watchdog's thread was kept before it started, so one
    # start refused at the thread limit (Lambda's 1,024, a container's pids.max) answered
    # a 500 and left the watchdog dead for good: a body sent slowly held the worker
    # thread for as long as the client liked again, and was answered 400 when it left.
    source = tmp_path / "main.py"
    source.write_text(BODY_READ_APP)
    done = run_script(THREAD_LIMITED_BODY_READS, str(source))
    assert done.stdout.splitlines()[-1].split() == ["200", "503", "504"]


FAR_DEADLINE_THEN_NEAR = """
import socket, sys, threading
import functions_framework
from werkzeug.test import EnvironBuilder

listener = socket.create_server(("127.0.0.1", 0))

def post(target, sent):
    # A POST of 1,000 bytes on a real connection, gunicorn's socket named, sent once the
    # read waits for it (so the watchdog wakes while the read is armed).
    served = functions_framework.create_app(target, sys.argv[1])
    client = socket.create_connection(listener.getsockname())
    conn, _ = listener.accept()
    threading.Timer(1, client.sendall, [sent]).start()
    environ = EnvironBuilder(path="/echo", method="POST").get_environ()
    environ.update({"wsgi.input": conn.makefile("rb"), "CONTENT_LENGTH": "1000"})
    environ["gunicorn.socket"] = conn
    # A guard, not a clock: a read nothing cuts ends when the client goes.
    gone = threading.Timer(10, client.close)
    gone.start()
    statuses = []
    b"".join(served(environ, lambda status, headers, exc=None: statuses.append(status)))
    gone.cancel()
    client.close()
    conn.close()
    return statuses[0].split()[0]

print(post("patient", b"x" * 1000), post("strict", b""))
"""

TWO_FUNCTIONS_APP = """
from daloy_edge import App, Request
from daloy_edge_gcp_functions import handler

patient_app = App(request_timeout=1e10)
strict_app = App(request_timeout=0.3)

@patient_app.post("/echo")
@strict_app.post("/echo")
async def echo(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}

patient = handler(patient_app)
strict = handler(strict_app)
"""


def test_a_deadline_past_the_longest_wait_leaves_slow_bodies_of_other_apps_cut_off(
    tmp_path: Path,
) -> None:
    # The failure: the watchdog thread, shared by every function a process serves, slept
    # until the nearest deadline, and one past threading.TIMEOUT_MAX (an app whose
    # request_timeout means "no limit") raised OverflowError and ended the thread, kept as
    # if alive: a slow body sent to any other function was never cut off again (400 once
    # its client left, where its deadline was a 504).
    source = tmp_path / "main.py"
    source.write_text(TWO_FUNCTIONS_APP)
    done = run_script(FAR_DEADLINE_THEN_NEAR, str(source))
    assert done.stdout.splitlines()[-1].split() == ["200", "504"]
    assert "OverflowError" not in done.stderr
