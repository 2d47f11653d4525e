"""Which route serves a method when several routes match one path."""

from __future__ import annotations

import random

import pytest

from daloy_edge import App, ConfigError, Router, Unauthorized
from daloy_edge._routes import INDEXED_FROM
from daloy_edge.testing import TestClient
from tests.support.calls import calls_made


def users_app() -> App:
    app = App(request_log=False)

    @app.get("/users/{user_id}")
    async def user(request):  # type: ignore[no-untyped-def]
        return {"user": request.path_params["user_id"]}

    @app.put("/users/me")
    async def replace_me(request):  # type: ignore[no-untyped-def]
        return {"replaced": True}

    @app.get("/files/{name}")
    async def read(request):  # type: ignore[no-untyped-def]
        return {"read": request.path_params["name"]}

    @app.delete("/files/{file_name}")
    async def remove(request):  # type: ignore[no-untyped-def]
        return {"removed": request.path_params["file_name"]}

    return app


def test_a_template_route_serves_a_method_the_exact_route_for_the_path_lacks() -> None:
    # "PUT /users/me" beside "GET /users/{user_id}" answered GET /users/me with a 405
    # whose Allow said PUT; Starlette, FastAPI and Hono serve it from the template.
    client = TestClient(users_app())
    assert client.get("/users/me").json() == {"user": "me"}
    assert client.head("/users/me").status == 200
    assert client.put("/users/me").json() == {"replaced": True}


def test_a_later_template_route_serves_a_method_the_first_match_lacks() -> None:
    # "DELETE /files/{file_name}" was registered, yet every DELETE was a 405.
    assert TestClient(users_app()).delete("/files/a").json() == {"removed": "a"}


def test_the_allow_of_a_405_lists_every_route_matching_the_path() -> None:
    client = TestClient(users_app())
    assert client.delete("/users/me").headers["allow"] == "GET, HEAD, PUT"
    assert client.request("PATCH", "/files/a").headers["allow"] == "DELETE, GET, HEAD"


def test_a_method_an_exact_route_lacks_goes_to_the_mount_below_it_behind_its_guard() -> None:
    async def guard(request, call_next):  # type: ignore[no-untyped-def]
        if request.headers.get("authorization") != "Bearer ok":
            raise Unauthorized("no")
        return await call_next(request)

    admin = Router()

    @admin.get("/stats")
    async def stats(request):  # type: ignore[no-untyped-def]
        return {"requests": 1}

    app = App(request_log=False)
    app.mount("/admin", admin, middleware=[guard])

    @app.post("/admin/stats")
    async def reset(request):  # type: ignore[no-untyped-def]
        return {"reset": True}

    client = TestClient(app)
    assert client.get("/admin/stats").status == 401
    assert client.get("/admin/stats", headers={"authorization": "Bearer ok"}).json() == {
        "requests": 1
    }
    assert client.delete("/admin/stats").headers["allow"] == "GET, HEAD, POST"


def test_a_mount_prefix_with_a_parameter_refuses_to_build() -> None:
    # Read as literal text, "/t/{tenant}" served only "/t/%7Btenant%7D/...".
    with pytest.raises(ConfigError, match="brace"):
        App(request_log=False).mount("/t/{tenant}", Router())


def test_a_router_mounted_inside_itself_refuses_to_build() -> None:
    # Compiling it recursed without end: a RecursionError escaped every request.
    outer, inner = Router(), Router()
    outer.mount("/inner", inner)
    with pytest.raises(ConfigError, match="inside itself"):
        inner.mount("/outer", outer)
    with pytest.raises(ConfigError, match="inside itself"):
        outer.mount("/self", outer)


@pytest.mark.parametrize(
    ("first", "second"),
    [("/u/{a}", "/u/{b}"), ("/f/{p:path}", "/f/{q:path}"), ("/v/{a}.{b}", "/v/{x}.{y}")],
)
def test_a_template_differing_only_in_parameter_names_refuses_to_build(
    first: str, second: str
) -> None:
    # The first registered matched every path the second did: GET /u/1 always answered
    # from /u/{a}, and the handler of /u/{b} was never called.
    app = App(request_log=False)

    async def answer(request):  # type: ignore[no-untyped-def]
        return {}

    app.add_route(first, answer, ["GET", "PUT"])
    with pytest.raises(ConfigError, match="would never be served"):
        app.add_route(second, answer, ["POST", "PUT"])
    app.add_route(second, answer, ["DELETE"])  # another method: served
    assert app.routes() == [(first, ["GET", "PUT"]), (second, ["DELETE"])]


def test_a_head_route_behind_a_get_of_the_same_template_shape_refuses_to_build() -> None:
    # GET /u/{a} answers HEAD as well, and is tried first: HEAD /u/1 was answered from
    # it, and the HEAD handler of /u/{b} was never called.
    app = App(request_log=False)

    async def answer(request):  # type: ignore[no-untyped-def]
        return {}

    app.add_route("/u/{a}", answer, ["GET"])
    with pytest.raises(ConfigError, match=r"HEAD /u/\{b\} would never be served: GET /u/\{a\}"):
        app.add_route("/u/{b}", answer, ["HEAD"])
    app.add_route("/u/{a}", answer, ["HEAD"])  # the same template: its own HEAD is served
    app.add_route("/v/{a}", answer, ["HEAD"])
    app.add_route("/v/{b}", answer, ["GET"])  # HEAD first: GET still reaches /v/{b}
    assert TestClient(app).get("/v/1").status_code == 200


def test_one_method_listed_twice_in_one_registration_refuses_to_build() -> None:
    with pytest.raises(ConfigError, match="registered twice"):
        App(request_log=False).add_route("/x/{a}", lambda request: {}, ["GET", "get"])


def test_a_second_router_mounted_at_the_same_prefix_refuses_to_build() -> None:
    # The first mount took every path below "/api": "/api/y" was listed by routes(),
    # yet answered 404.
    app, first, second = App(request_log=False), Router(), Router()

    @second.get("/y")
    async def y(request):  # type: ignore[no-untyped-def]
        return {"y": True}

    app.mount("/api", first)
    with pytest.raises(ConfigError, match="mounted twice"):
        app.mount("/api", second)


def test_an_app_mounted_with_its_own_authentication_refuses_to_build() -> None:
    # Only its routes were served: its app-wide guard never ran, and /api/x answered 200.
    async def deny(request, call_next):  # type: ignore[no-untyped-def]
        raise Unauthorized("no credentials")

    api = App(request_log=False, middleware=[deny])

    @api.get("/x")
    async def x(request):  # type: ignore[no-untyped-def]
        return {"secret": True}

    with pytest.raises(ConfigError, match="not an App"):
        App(request_log=False).mount("/api", api)


def _request_calls(client: TestClient, method: str, path: str) -> int:
    """The calls one request makes, the fewer of two: every hundred requests or so, one
    also refills the block request ids are drawn from, a few calls more."""
    return min(calls_made(lambda: client.request(method, path)) for _ in range(2))


def _resources_app(count: int) -> App:
    """An API of ``count`` resources: each an item template and a nested one, several
    methods each, and a static listing route."""
    app = App(request_log=False)

    async def answer(request):  # type: ignore[no-untyped-def]
        return {"route": request.route, "params": request.path_params}

    for n in range(count):
        app.add_route(f"/api/v1/res{n}/{{item_id}}", answer, ["GET", "PUT", "DELETE"])
        app.add_route(f"/api/v1/res{n}/{{item_id}}/sub/{{sub}}", answer, ["GET", "POST"])
        app.add_route(f"/api/v1/res{n}", answer, ["GET", "POST"])
    return app


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/made/up/path", 404),
        ("GET", "/api/v1/res3/x/nope", 404),
        ("PATCH", "/api/v1/res3/x", 405),
    ],
    ids=["404", "404-below-a-resource", "405"],
)
def test_a_made_up_path_costs_the_same_beside_a_thousand_template_routes(
    method: str, path: str, status: int
) -> None:
    # Each template route was tried in turn: any client's 404 cost one regex match per
    # template route (2,000 here), and a 405 two, to list the methods for Allow.
    costs = []
    for count in (10, 1000):
        client = TestClient(_resources_app(count))
        assert client.request(method, path).status == status
        costs.append(_request_calls(client, method, path))
    assert costs[1] == costs[0]


def _mixed_router(rng: random.Random) -> Router:
    async def answer(request):  # type: ignore[no-untyped-def]
        return {}

    router = Router()
    segments = ["a", "b", "{x}", "v{major}.{minor}", "c"]
    seen: set[str] = set()
    while len(seen) < 60:
        parts = [rng.choice(segments) for _ in range(rng.randint(1, 4))]
        names = iter(f"p{i}" for i in range(10))
        template = "/" + "/".join(p.replace("{x}", "{" + next(names) + "}") for p in parts)
        if "{major}" in template and template.count("{major}") > 1:
            continue
        if rng.random() < 0.2:
            template += "/{rest:path}" if not template.endswith("/") else "{rest:path}"
        if template in seen:
            continue
        seen.add(template)
        methods = rng.sample(["GET", "PUT", "POST", "DELETE"], rng.randint(1, 3))
        router.add_route(template, answer, methods)
    for exact in ("/a", "/a/b", "/c/a/b"):
        if exact not in seen:
            router.add_route(exact, answer, ["PATCH"])
    return router


def test_indexed_template_routing_answers_as_trying_each_template_in_turn() -> None:
    rng = random.Random(20261207)
    router = _mixed_router(rng)
    indexed = router._compile(render=lambda request, exc: None)  # type: ignore[arg-type,return-value]
    assert indexed.index is not None and len(indexed.patterns) >= INDEXED_FROM
    plain = router._compile(render=lambda request, exc: None)  # type: ignore[arg-type,return-value]
    plain.index = None
    words = ["a", "b", "c", "", "x", "v1.2", "v1..2", "a.b"]
    for _ in range(3000):
        path = "/" + "/".join(rng.choice(words) for _ in range(rng.randint(0, 6)))
        path += rng.choice(["", "", "\n"])
        for method in ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"):
            assert indexed.route_of(path, method) == plain.route_of(path, method), path
        assert indexed.allowed(path) == plain.allowed(path), path


def _tenants_app(count: int) -> App:
    """A mount per tenant, each with its own routes, beside a template route."""
    app = App(request_log=False)

    async def answer(request):  # type: ignore[no-untyped-def]
        return {"route": request.route}

    for n in range(count):
        tenant = Router()
        tenant.add_route("/items/{item_id}", answer, ["GET"])
        app.mount(f"/tenant{n}", tenant)
    app.add_route("/files/{name}", answer, ["GET"])
    return app


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/made-up", 404), ("GET", "/files/a", 200), ("POST", "/files/a", 405)],
    ids=["404", "template", "405"],
)
def test_a_path_outside_every_mount_costs_the_same_beside_a_thousand_mounts(
    method: str, path: str, status: int
) -> None:
    # Every path that is not an exact route was compared with each mount's prefix in
    # turn before the templates were tried: a thousand comparisons for a thousand tenants.
    costs = []
    for count in (20, 1000):
        client = TestClient(_tenants_app(count))
        assert client.request(method, path).status == status
        costs.append(_request_calls(client, method, path))
    assert costs[1] == costs[0]


def test_the_longest_mounted_prefix_serves_among_many_mounts() -> None:
    app = _tenants_app(30)
    nested = Router()

    @nested.get("/items/{item_id}")
    async def item(request):  # type: ignore[no-untyped-def]
        return {"nested": request.route}

    app.mount("/tenant1/archive", nested)
    client = TestClient(app)
    assert client.get("/tenant1/archive/items/3").json() == {
        "nested": "/tenant1/archive/items/{item_id}"
    }
    assert client.get("/tenant1/items/3").json() == {"route": "/tenant1/items/{item_id}"}
    assert client.get("/tenant10/items/3").json() == {"route": "/tenant10/items/{item_id}"}
    assert client.get("/tenant1x/items/3").status == 404
    assert client.post("/tenant1/archive/items/3").headers["allow"] == "GET, HEAD"


def test_indexed_mounts_answer_as_comparing_each_prefix_in_turn() -> None:
    async def answer(request):  # type: ignore[no-untyped-def]
        return {}

    rng = random.Random(20261208)
    router = Router()
    prefixes = sorted({"/" + "/".join(rng.choices("abc", k=rng.randint(1, 3))) for _ in range(60)})
    for prefix in prefixes:
        inner = Router()
        inner.add_route("/", answer, rng.sample(["GET", "PUT"], 1))
        inner.add_route("/{x}", answer, rng.sample(["GET", "POST", "PUT"], 2))
        router.mount(prefix, inner)
    router.add_route("/a/{y}", answer, ["DELETE"])
    router.add_route("/b", answer, ["PATCH"])
    indexed = router._compile(render=lambda request, exc: None)  # type: ignore[arg-type,return-value]
    assert indexed.mount_index is not None and len(prefixes) >= INDEXED_FROM
    plain = router._compile(render=lambda request, exc: None)  # type: ignore[arg-type,return-value]
    plain.mount_index = None
    for _ in range(3000):
        path = "/" + "/".join(
            rng.choice(["a", "b", "c", "", "ab"]) for _ in range(rng.randint(0, 5))
        )
        for method in ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"):
            assert indexed.route_of(path, method) == plain.route_of(path, method), path
        assert indexed.allowed(path) == plain.allowed(path), path
