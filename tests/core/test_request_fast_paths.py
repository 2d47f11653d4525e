"""Per-request shortcuts on the way in: each must give exactly what the general path
gives, and fall back to it whenever its condition does not hold."""

from __future__ import annotations

import pytest

from daloy_edge import App, BadRequest, Headers, Request, RequestLimits, Response, _headers
from daloy_edge._guards import check_request, header_fields
from daloy_edge._request import QueryParams, new_request
from daloy_edge.testing import TestClient

_MISSING = object()


def _fields(request: Request) -> dict[str, object]:
    return {
        name: getattr(request, name, _MISSING) for name in Request.__slots__ if name != "__dict__"
    }


@pytest.mark.parametrize("method", ["GET", "post", "Delete"])
@pytest.mark.parametrize("env", [None, {}, {"A": "1"}])
def test_new_request_sets_what_the_constructor_sets(
    method: str, env: dict[str, str] | None
) -> None:
    headers = Headers({"host": "a"})
    options: dict[str, object] = {
        "query_string": "a=1",
        "headers": headers,
        "scheme": "http",
        "client": "192.0.2.1",
        "body": b"x",
        "env": env,
        "runtime": "test",
    }
    built = Request(method, "", **options)  # type: ignore[arg-type]
    fast = new_request(method, "", **options)  # type: ignore[arg-type]
    assert _fields(fast) == _fields(built)
    assert type(fast) is Request and not vars(fast)
    # Fresh containers for each request, never shared.
    other = new_request(method, "/", **options)  # type: ignore[arg-type]
    assert fast.state is not other.state and fast.timings is not other.timings
    assert fast.path_params is not other.path_params


class _SizelessEnv(dict[str, str]):
    """An environment (``os.environ`` is one) whose size costs a Python call to learn."""

    def __len__(self) -> int:
        raise AssertionError("the request asked the environment for its size")


@pytest.mark.parametrize("build", [Request, new_request])
@pytest.mark.parametrize("given", [_SizelessEnv(A="1"), _SizelessEnv()])
def test_the_environment_given_is_kept_as_it_is(build: object, given: dict[str, str]) -> None:
    options: dict[str, object] = {
        "query_string": "",
        "headers": Headers(),
        "scheme": "https",
        "client": None,
        "body": b"",
        "runtime": "test",
    }
    kept = build("GET", "/", env=given, **options)  # type: ignore[operator]
    assert kept.env is given  # the same (live) mapping, even an empty one
    first = build("GET", "/", env=None, **options)  # type: ignore[operator]
    second = build("GET", "/", env=None, **options)  # type: ignore[operator]
    assert first.env == {} and first.env is not second.env


@pytest.mark.parametrize(
    "source",
    [
        {"host": "a", "x-forwarded-for": "192.0.2.1", "accept": "*/*"},
        {"Host": "a", "X-Forwarded-For": "192.0.2.1"},  # mixed case: lowered
        {"HOST": "a", "host": "b"},  # both kept, both lowered
        {"caf\u00e9": "a", "CAF\u00c9": "b"},  # non-ASCII: the general path
        {"x-1": "a", "\u212a": "b"},  # KELVIN SIGN lowers to an ASCII "k"
        {"123": "a"},  # nothing to lower
        {},
    ],
)
def test_headers_from_dict_matches_the_constructor(source: dict[str, str]) -> None:
    fast = Headers.from_dict(source)
    assert fast.items() == Headers(source).items()
    fast.add("X-New", "1")
    assert "x-new" in fast and "x-new" not in Headers(source)


_LOOKUPS = ["host", "HOST", "Accept", "x-new", "X-Amzn-Trace-Id", "traceparent", "", "missing"]


def _lookups(headers: Headers) -> list[object]:
    return [
        (headers.get(n), headers.get(n, "d"), n in headers, headers.get_all(n)) for n in _LOOKUPS
    ]


@pytest.mark.parametrize(
    "change",
    [
        lambda h: h.__setitem__("Host", "b"),
        lambda h: h.add("X-New", "1"),
        lambda h: h.setdefault("x-new", "2"),
        lambda h: h.__delitem__("host"),
        lambda h: h.pop("accept"),
        lambda h: h.put_lowered_pair("host", "c", "x-new", "3"),
        lambda h: h.extend_lowered([("x-new", "4"), ("host", "5")]),
    ],
)
def test_lookups_in_event_headers_follow_every_change(change: object) -> None:
    # ``from_dict`` answers lookups from a copy of the event's dict; each change must
    # leave them answering exactly as the constructor's headers do after it.
    source = {
        "host": "a",
        "accept": "*/*",
        "x-amzn-trace-id": "Root=1-5759e988-bd862e3fe1be46a994272793",
    }
    fast, general = Headers.from_dict(source), Headers(source)
    assert _lookups(fast) == _lookups(general)
    source["host"] = "changed"  # the event's dict, changed afterwards, changes nothing
    change(fast)  # type: ignore[operator]
    change(general)  # type: ignore[operator]
    assert fast.items() == general.items()
    assert _lookups(fast) == _lookups(general)


_RECEIVED = [
    [
        ("host", "a"),
        ("accept", "*/*"),
        ("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793"),
    ],
    [("host", "a"), ("cookie", "a=1"), ("cookie", "b=2")],  # a repeated name: no index
    [("x-forwarded-for", "192.0.2.1"), ("host", "a"), ("x-forwarded-for", "198.51.100.7")],
    [("host", "a")],
    [],
]


@pytest.mark.parametrize("fields", _RECEIVED)
@pytest.mark.parametrize(
    "change",
    [
        lambda h: None,
        lambda h: h.__setitem__("Host", "b"),
        lambda h: h.add("Cookie", "c=3"),
        lambda h: h.__delitem__("host"),
        lambda h: h.put_lowered_pair("host", "c", "x-new", "3"),
        lambda h: h.extend_lowered([("x-new", "4"), ("host", "5")]),
    ],
)
def test_lookups_in_received_fields_match_the_general_path(
    fields: list[tuple[str, str]], change: object
) -> None:
    # A server's fields are indexed only when no name repeats: an index holds one value
    # per name, and a repeated Cookie or X-Forwarded-For line must keep all of its values.
    fast, general = Headers._from_received(list(fields)), Headers(fields)
    names = [name for name, _ in fields]
    assert (fast._index is not None) == (len(set(names)) == len(names))
    assert _lookups(fast) == _lookups(general)
    assert header_fields(fast)[2:] == header_fields(general)[2:]
    change(fast)  # type: ignore[operator]
    change(general)  # type: ignore[operator]
    assert fast.items() == general.items()
    assert _lookups(fast) == _lookups(general)


@pytest.mark.parametrize(
    "fields",
    [
        [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")],
        [
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ],  # two: neither is believed
        [("host", "a"), ("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793")],
        [
            ("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793"),
            ("traceparent", "not a traceparent"),
        ],
        [("host", "a")],
    ],
)
def test_trace_ids_from_received_fields_match_the_general_path(
    fields: list[tuple[str, str]],
) -> None:
    from daloy_edge.observability._trace import inbound_ids

    def fixed(n: int) -> bytes:
        return bytes(range(1, n + 1))

    received = Headers._from_received(list(fields))
    assert inbound_ids(received, fixed) == inbound_ids(Headers(fields), fixed)


@pytest.mark.parametrize(
    "source",
    [
        {
            "Host": "a",
            "Accept": "*/*",
            "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793",
        },
        {"HOST": "a", "host": "b", "Accept": "*/*"},  # one name once lowered: no index
        {"caf\u00e9": "a", "CAF\u00c9": "b"},
    ],
)
def test_lookups_in_mixed_case_event_headers_match_the_constructor(
    source: dict[str, str],
) -> None:
    # REST APIs keep the client's spelling: the names are lowered, then indexed when
    # no two of them became one.
    fast, general = Headers.from_dict(source), Headers(source)
    lowered = [name.lower() for name in source]
    assert (fast._index is not None) == (len(set(lowered)) == len(lowered))
    assert _lookups(fast) == _lookups(general)
    assert [fast.get_all(n) for n in lowered] == [general.get_all(n) for n in lowered]
    fast.add("Host", "c")
    general.add("Host", "c")
    assert _lookups(fast) == _lookups(general)


@pytest.mark.parametrize(
    "source",
    [
        {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        {"x-amzn-trace-id": "Root=1-5759e988-bd862e3fe1be46a994272793", "host": "a"},
        {
            "x-amzn-trace-id": "Root=1-5759e988-bd862e3fe1be46a994272793",
            "traceparent": "not a traceparent",
        },
        {
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "x-amzn-trace-id": "Root=1-5759e988-bd862e3fe1be46a994272793",
        },
        {"host": "a"},
    ],
)
def test_trace_ids_from_event_headers_match_the_general_path(source: dict[str, str]) -> None:
    from daloy_edge.observability._trace import inbound_ids

    def fixed(n: int) -> bytes:
        return bytes(range(1, n + 1))

    assert inbound_ids(Headers.from_dict(source), fixed) == inbound_ids(Headers(source), fixed)


def test_names_remembered_as_lower_case_are_taken_as_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_headers, "_LOWER_NAMES", set())
    first = {"host": "a", "accept": "*/*"}
    assert Headers.from_dict(first).items() == list(first.items())
    assert {"host", "accept"} == _headers._LOWER_NAMES
    # Known names plus one that is not lower-case: the full test, and lowering.
    mixed = {"host": "a", "Accept": "*/*", "X-New": "1"}
    assert Headers.from_dict(mixed).items() == Headers(mixed).items()
    assert {"host", "accept"} == _headers._LOWER_NAMES
    # A subset of known names: taken as they are.
    assert Headers.from_dict({"accept": "b"}).items() == [("accept", "b")]
    with pytest.raises(AttributeError):
        Headers.from_dict({"host": "a", 1: "b"})  # type: ignore[dict-item]


def test_the_lower_case_name_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_headers, "_LOWER_NAMES", set())
    monkeypatch.setattr(_headers, "_LOWER_NAMES_MAX", 4)
    for n in range(10):
        source = {f"x-{n}-a": "1", f"x-{n}-b": "2"}
        assert Headers.from_dict(source).items() == list(source.items())
    assert len(_headers._LOWER_NAMES) <= 5
    long_names = {"x" * (_headers._LOWER_NAMES_SIZE + 1): "1"}
    monkeypatch.setattr(_headers, "_LOWER_NAMES", set())
    assert Headers.from_dict(long_names).items() == list(long_names.items())
    assert set() == _headers._LOWER_NAMES


def test_names_made_up_by_the_hundred_do_not_keep_a_new_client_off_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_headers, "_LOWER_NAMES", set())
    for n in range(2 * _headers._LOWER_NAMES_MAX):
        Headers.from_dict({"host": "a", f"x-made-up-{n}": "1"})
    Headers.from_dict({"host": "a", "x-amzn-trace-id": "Root=1"})
    assert {"host", "x-amzn-trace-id"} <= _headers._LOWER_NAMES


def test_headers_from_dict_refuses_what_the_constructor_refuses() -> None:
    with pytest.raises(AttributeError):
        Headers({1: "a"})  # type: ignore[dict-item]
    with pytest.raises(AttributeError):
        Headers.from_dict({1: "a"})  # type: ignore[dict-item]


def _request(headers: Headers) -> Request:
    return new_request(
        "GET",
        "/",
        query_string="",
        headers=headers,
        scheme="https",
        client=None,
        body=b"",
        env=None,
        runtime="test",
    )


@pytest.mark.parametrize(
    "change",
    [
        # Unchecked changes: ``add`` and ``h[name] = value`` refuse these at once.
        lambda h: h.add_lowered("x-bad", "a\r\nb"),
        lambda h: h.put_lowered("host", "a\x00"),
        lambda h: h.extend_lowered([("bad name", "1")]),
        lambda h: h.setdefault("content-length", "1") and h.add("content-length", "2"),
    ],
)
@pytest.mark.parametrize("build", [Headers, Headers.from_dict], ids=["constructor", "from_dict"])
def test_fields_read_before_a_change_are_read_again(change: object, build: object) -> None:
    headers = build({"host": "a", "accept": "*/*"})  # type: ignore[operator]
    request = _request(headers)
    fields = header_fields(headers)
    check_request(request, RequestLimits(), fields)
    change(headers)  # type: ignore[operator]
    with pytest.raises(BadRequest):
        check_request(request, RequestLimits(), fields)


@pytest.mark.parametrize("build", [Headers, Headers.from_dict], ids=["constructor", "from_dict"])
def test_fields_of_other_headers_are_not_taken(build: object) -> None:
    good = build({"host": "a"})  # type: ignore[operator]
    request = _request(build({"host": "a\r\n"}))  # type: ignore[operator]
    with pytest.raises(BadRequest):
        check_request(request, RequestLimits(), header_fields(good))


def test_fields_of_event_headers_are_those_of_the_constructor() -> None:
    source = {"host": "a", "accept": "*/*", "x-request-id": "r-1"}
    fast, general = header_fields(Headers.from_dict(source)), header_fields(Headers(source))
    assert fast[1:] == general[1:]


def test_an_observer_changing_headers_at_the_start_is_still_checked() -> None:
    # The attack: a line break smuggled into a header (log and response-header injection)
    # after the fields were indexed, passing checks that read a stale view of them.
    class Meddler:
        def on_request(self, request: Request) -> None:
            request.headers.add_lowered("x-injected", "a\nb")

        def on_response(self, *args: object) -> None:
            pass

    app = App(request_log=False, observers=[Meddler()])

    @app.get("/")
    async def root(request: Request) -> Response:
        return Response.text("ok")

    response = TestClient(app).get("/")
    assert response.status == 400
    assert response.json()["detail"] == "control character in header value"


@pytest.mark.parametrize(
    ("values", "kept"),
    [
        (["abc-1"], True),
        (["abc-1", "abc-1"], False),  # repeated: ambiguous, replaced
        (["bad id"], False),
        ([], False),
    ],
)
def test_request_id_from_the_fields(values: list[str], kept: bool) -> None:
    app = App(request_log=False)

    @app.get("/")
    async def root(request: Request) -> dict[str, str]:
        return {"id": request.request_id}

    headers = [("X-Request-Id", v) for v in values]
    response = TestClient(app).get("/", headers=headers)
    assert (response.headers["x-request-id"] == "abc-1") is kept
    assert response.json() == {"id": response.headers["x-request-id"]}


def test_routing_errors_and_middleware_around_the_dispatcher() -> None:
    seen: list[int] = []

    async def outer(request: Request, call_next: object) -> Response:
        response: Response = await call_next(request)  # type: ignore[operator]
        seen.append(response.status)
        response.headers["x-outer"] = "1"
        return response

    app = App(request_log=False, middleware=[outer])

    @app.get("/here")
    async def here(request: Request) -> dict[str, bool]:
        return {"ok": True}

    client = TestClient(app)
    assert client.get("/here").status == 200
    missing = client.get("/nowhere")
    assert missing.status == 404 and missing.headers["x-outer"] == "1"
    wrong = client.post("/here")
    assert wrong.status == 405 and wrong.headers["allow"] == "GET, HEAD"
    assert seen == [200, 404, 405]


def test_a_query_parameter_is_read_by_indexing_as_a_mapping_is():
    # request.query["n"] raised TypeError (a 500) where request.query_params["n"] works in
    # Starlette and FastAPI.
    query = QueryParams("n=1&n=2&empty=")
    assert (query["n"], query["empty"]) == ("1", "")
    with pytest.raises(KeyError):
        query["missing"]
