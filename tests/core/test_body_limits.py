"""Body bounds: 413 past the limit, 400 when the body contradicts Content-Length."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from daloy_edge import App, BadRequest, ConfigError, PayloadTooLarge, Request, Router
from daloy_edge._body import read_bounded
from daloy_edge.testing import TestClient


def make_app() -> App:
    app = App(max_body=1024)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.post("/small", max_body=10)
    async def small(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.post("/json")
    async def parse(request: Request) -> object:
        return {"parsed": await request.json()}

    @app.post("/form")
    async def form(request: Request) -> object:
        return {"fields": await request.form()}

    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app())


def test_body_within_limit_is_read(client: TestClient) -> None:
    assert client.post("/echo", content=b"x" * 1024).json() == {"bytes": 1024}


def test_oversized_body_is_413(client: TestClient) -> None:
    response = client.post("/echo", content=b"x" * 1025)
    assert response.status == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_declared_oversize_is_413_before_reading(client: TestClient) -> None:
    response = client.post("/echo", headers={"content-length": "999999999"}, chunks=[b"x"])
    assert response.status == 413


def test_route_limit_overrides_app_limit(client: TestClient) -> None:
    assert client.post("/small", content=b"x" * 11).status == 413


def test_an_app_body_limit_of_nan_refuses_to_build() -> None:
    # No length exceeds NaN: a limit read from text as float("nan") turned the bound off.
    with pytest.raises(ConfigError, match="max_body"):
        App(env={}, max_body=float("nan"))


@pytest.mark.parametrize("limit", [float("nan"), 0, -1])
def test_a_route_body_limit_that_is_not_positive_refuses_to_build(limit: float) -> None:
    # The route's limit replaces the app's: NaN let bodies of any size past both.
    app = App(env={}, max_body=1024)
    with pytest.raises(ConfigError, match="max_body"):
        app.add_route("/upload", lambda request: None, ("POST",), max_body=limit)


async def read_first(request: Request, call_next: object) -> object:
    # App-wide or mount middleware that reads the body before routing (a signature check).
    await request.body()
    return await call_next(request)  # type: ignore[operator]


async def read_in_mount(request: Request, call_next: object) -> object:
    await request.body()
    return await call_next(request)  # type: ignore[operator]


def reading_first_app() -> App:
    app = App(max_body=1024, middleware=[read_first])
    upload = Router()

    @upload.post("/file", max_body=4096)
    async def file(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    app.mount("/upload", upload, middleware=[read_in_mount])

    @app.post("/small", max_body=10)
    async def small(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.post("/large", max_body=4096)
    async def large(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return app


def test_a_body_read_before_routing_is_still_bound_by_the_routes_smaller_limit() -> None:
    # The app-wide reader read it under the app's 1024: /small then served 500 bytes.
    response = TestClient(reading_first_app()).post("/small", content=b"x" * 500)
    assert response.status == 413


def test_a_body_read_before_routing_may_reach_the_routes_larger_limit() -> None:
    # The app-wide reader refused 3000 bytes (413) that /large allows.
    response = TestClient(reading_first_app()).post("/large", content=b"x" * 3000)
    assert response.json() == {"bytes": 3000}


def test_a_body_read_by_mount_middleware_is_bound_by_the_mounted_routes_limit() -> None:
    client = TestClient(reading_first_app())
    assert client.post("/upload/file", content=b"x" * 3000).json() == {"bytes": 3000}
    assert client.post("/upload/file", content=b"x" * 5000).status == 413


def test_content_length_shorter_than_body_is_400(client: TestClient) -> None:
    response = client.post("/echo", headers={"content-length": "3"}, chunks=[b"abcdef"])
    assert response.status == 400


def test_content_length_longer_than_body_is_400(client: TestClient) -> None:
    response = client.post("/echo", headers={"content-length": "100"}, chunks=[b"abc"])
    assert response.status == 400


@pytest.mark.parametrize(
    "value",
    [
        "-1",
        "1e3",
        "0x10",
        "12 34",
        "",
        "+5",
        "１２",
        # Digits to str.isdigit(), and to int() the body's own length: no HTTP length.
        "\u0663",
        # A digit to str.isdigit() that int() cannot read (a 500 unless refused first).
        "\u00b3",
        # Past 19 digits (no body is that long), and past int()'s 4300-digit limit.
        "1" + "0" * 19,
        "9" * 5000,
    ],
)
def test_malformed_content_length_is_400(client: TestClient, value: str) -> None:
    response = client.post("/echo", headers={"content-length": value}, chunks=[b"abc"])
    assert response.status == 400


def test_a_content_length_of_19_digits_is_read_and_413(client: TestClient) -> None:
    response = client.post("/echo", headers={"content-length": "9" * 19}, chunks=[b"abc"])
    assert response.status == 413


def test_repeated_content_length_is_400(client: TestClient) -> None:
    headers = [("content-length", "3"), ("content-length", "3")]
    assert client.post("/echo", headers=headers, chunks=[b"abc"]).status == 400


def test_chunked_body_past_limit_is_413(client: TestClient) -> None:
    response = client.post("/echo", chunks=[b"x" * 512] * 4)
    assert response.status == 413


async def test_streamed_body_stops_being_read_past_the_limit() -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 100

    with pytest.raises(PayloadTooLarge):
        await read_bounded(endless(), 1000, None)
    assert pulled == 11


def _bytes_held_by(exc: BaseException) -> int:
    """Bytes the frames of ``exc``'s traceback keep alive in their locals (a list's
    items counted too): what a refused upload leaves until the collector runs."""
    held = 0
    tb = exc.__traceback__
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            items = value if isinstance(value, list) else [value]
            held += sum(len(v) for v in items if isinstance(v, bytes | bytearray))
        tb = tb.tb_next
    return held


@pytest.mark.parametrize(
    ("declared", "error"), [(None, PayloadTooLarge), (1500, BadRequest)], ids=["limit", "declared"]
)
async def test_a_refused_body_leaves_no_chunk_to_the_error(
    declared: int | None, error: type[Exception]
) -> None:
    # The attack: oversized uploads sent back to back, each refused, to pile up memory
    # faster than the collector frees it. The error lives on in ``request.state`` for the
    # observers and its traceback holds the request, a cycle only the collector frees:
    # nothing of the body may ride on it.
    async def chunks() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 65536

    with pytest.raises(error) as caught:
        await read_bounded(chunks(), 1 << 20 if declared else 100_000, declared)
    assert _bytes_held_by(caught.value) == 0


def test_a_second_read_of_a_chunked_body_refused_at_the_limit_is_refused_again() -> None:
    # A handler that catches the 413 and reads again (a fallback to another parser)
    # read the empty rest of the stream as the whole body.
    app = App(max_body=1024)

    @app.post("/retry")
    async def retry(request: Request) -> dict[str, int]:
        with pytest.raises(PayloadTooLarge):
            await request.json()
        return {"bytes": len(await request.body())}

    response = TestClient(app).post(
        "/retry", chunks=[b"x" * 512] * 4, headers={"content-type": "application/json"}
    )
    assert response.status == 413


def test_json_wrong_content_type_is_415(client: TestClient) -> None:
    response = client.post("/json", content=b"{}", headers={"content-type": "text/plain"})
    assert response.status == 415


def test_json_with_suffix_type_is_accepted(client: TestClient) -> None:
    headers = {"content-type": "application/merge-patch+json"}
    assert client.post("/json", content=b'{"a":1}', headers=headers).status == 200


def test_unsafe_json_is_400_problem(client: TestClient) -> None:
    response = client.post(
        "/json", json=None, content=b'{"a":1,"a":2}', headers={"content-type": "application/json"}
    )
    assert response.status == 400
    assert response.json()["type"].endswith("bad-request")


@pytest.mark.parametrize(
    "types", [("application/json", "text/plain"), ("application/json", "application/json")]
)
def test_json_under_a_repeated_content_type_is_415(
    client: TestClient, types: tuple[str, str]
) -> None:
    # Runtimes disagree on a repeated field (first, last, or both joined with a comma):
    # whichever one a runtime kept, the body is refused alike.
    headers = [("content-type", media) for media in types]
    assert client.post("/json", content=b'{"a":1}', headers=headers).status == 415


@pytest.mark.parametrize(
    "joined",
    [
        "application/json; v=1, text/plain",
        "application/json;,text/plain",
        'application/json; a="x\\",text/plain',
        'application/json; a="x, text/plain',
    ],
)
def test_json_under_two_content_types_joined_into_one_line_is_415(
    client: TestClient, joined: str
) -> None:
    # HTTP APIs and Function URLs join a repeated field with a comma: a parameter on the
    # first line left its type part alone looking like JSON.
    response = client.post("/json", content=b'{"a":1}', headers={"content-type": joined})
    assert response.status == 415


@pytest.mark.parametrize(
    "media",
    [
        "\xa0application/json",
        "application/json\x85",
        "application/json\u3000; charset=utf-8",
        "application/json; charset=utf-8\xa0",
    ],
)
def test_json_under_a_type_padded_with_unicode_whitespace_is_415(
    client: TestClient, media: str
) -> None:
    # Names no media type to a proxy or filter (HTTP allows only spaces and tabs around
    # it), so a body it lets through uninspected must not be read as JSON here.
    response = client.post("/json", content=b'{"a":1}', headers={"content-type": media})
    assert response.status == 415


def test_json_in_a_coding_padded_with_a_no_break_space_is_415(client: TestClient) -> None:
    headers = {"content-type": "application/json", "content-encoding": "identity\xa0"}
    assert client.post("/json", content=b'{"a":1}', headers=headers).status == 415


def test_json_with_a_comma_in_a_quoted_parameter_is_read(client: TestClient) -> None:
    headers = {"content-type": 'application/json; profile="a,b"'}
    assert client.post("/json", content=b'{"a":1}', headers=headers).status == 200


def test_form_under_two_content_types_joined_into_one_line_is_415(client: TestClient) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded; v=1, text/plain"}
    assert client.post("/form", content=b"a=1", headers=headers).status == 415


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "GZIP", "identity, gzip"])
def test_json_in_a_content_coding_is_415_with_accept_encoding_identity(
    client: TestClient, coding: str
) -> None:
    # The body is read as it came: a gzip-labelled body of plain JSON is what a proxy that
    # decodes codings would see as something else.
    headers = {"content-type": "application/json", "content-encoding": coding}
    response = client.post("/json", content=b'{"a":1}', headers=headers)
    assert response.status == 415
    assert response.headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("coding", ["identity", "Identity", ""])
def test_json_in_the_identity_coding_is_read(client: TestClient, coding: str) -> None:
    headers = {"content-type": "application/json", "content-encoding": coding}
    assert client.post("/json", content=b'{"a":1}', headers=headers).status == 200


def test_json_under_identity_repeated_in_one_joined_field_is_read(client: TestClient) -> None:
    # Two "identity" fields as Workers, HTTP APIs and gunicorn hand them over: joined.
    headers = {"content-type": "application/json", "content-encoding": "identity, identity"}
    assert client.post("/json", content=b'{"a":1}', headers=headers).status == 200


def test_form_in_a_content_coding_is_415(client: TestClient) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded", "content-encoding": "gzip"}
    assert client.post("/form", content=b"a=1", headers=headers).status == 415


def test_json_with_a_content_coding_behind_a_repeated_identity_is_415(client: TestClient) -> None:
    headers = [
        ("content-type", "application/json"),
        ("content-encoding", "identity"),
        ("content-encoding", "gzip"),
    ]
    assert client.post("/json", content=b'{"a":1}', headers=headers).status == 415


@pytest.mark.parametrize(
    "media",
    [
        "application/json; charset=utf-16",
        "application/json; charset=latin-1",
        "application/json; charset=ibm037",
        'application/json; charset="utf-32"',
        "application/json; charset=utf-8; charset=utf-16",
        "application/json;charset=",
        "application/json; charset*=us-ascii''utf-16",
        "application/json; charset*0*=us-ascii''utf-16",
    ],
)
def test_json_declared_in_a_charset_other_than_utf8_is_415(client: TestClient, media: str) -> None:
    # The body is read as UTF-8 whatever it declares; a filter that decodes it by the
    # declaration reads other text.
    response = client.post("/json", content=b'{"a":1}', headers={"content-type": media})
    assert response.status == 415


@pytest.mark.parametrize(
    "media",
    [
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/json; CHARSET=utf8",
        "application/json; profile=x",
    ],
)
def test_json_declared_as_utf8_is_read(client: TestClient, media: str) -> None:
    response = client.post("/json", content=b'{"a":1}', headers={"content-type": media})
    assert response.status == 200


def test_form_declared_in_a_charset_other_than_utf8_is_415(client: TestClient) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded; charset=ibm037"}
    assert client.post("/form", content=b"a=1", headers=headers).status == 415


def test_form_body_in_another_charset_than_it_declares_is_a_400_problem(client: TestClient) -> None:
    # A latin-1 "é" sent raw under a form type that is read as UTF-8.
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = client.post("/form", content=b"a=caf\xe9", headers=headers)
    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "form body is not UTF-8"


@pytest.mark.parametrize(
    "body", [b"_charset_=iso-8859-1&a=%E9", b"a=1&_charset_=UTF-8&_charset_=windows-1252"]
)
def test_form_declaring_a_charset_other_than_utf8_in_a_charset_field_is_415(
    client: TestClient, body: bytes
) -> None:
    # The field a browser fills with its submission encoding: a server that decodes by it
    # reads "%E9" as "é", where this one reads U+FFFD.
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post("/form", content=body, headers=headers).status == 415


@pytest.mark.parametrize("declared", ["UTF-8", "utf8", ""])
def test_form_declaring_utf8_or_nothing_in_a_charset_field_is_read(
    client: TestClient, declared: str
) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = client.post("/form", content=f"_charset_={declared}&a=1".encode(), headers=headers)
    assert response.json() == {"fields": {"_charset_": declared, "a": "1"}}


def test_form_declared_as_utf8_is_read(client: TestClient) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded; charset=UTF-8"}
    response = client.post("/form", content=b"a=1", headers=headers)
    assert response.json() == {"fields": {"a": "1"}}


async def test_a_whole_body_past_the_limit_with_no_content_length_is_refused() -> None:
    # A Lambda or Workers body arrives whole, and a hand-built event may declare no length.
    with pytest.raises(PayloadTooLarge):
        await read_bounded(b"x" * 11, 10, None)
    assert await read_bounded(b"x" * 10, 10, None) == b"x" * 10


def test_a_streamed_body_that_matches_its_content_length_is_read(client: TestClient) -> None:
    # What every ASGI request with a body is: chunks adding up to the declared length.
    chunks = [b"ab", b"c"]
    response = client.post("/echo", headers={"content-length": "3"}, chunks=chunks)
    assert response.json() == {"bytes": 3}
