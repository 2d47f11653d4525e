"""Which route serves a method when several routes match one path."""

from __future__ import annotations

import pytest

from daloy_edge import App, ConfigError, Router, Unauthorized
from daloy_edge.testing import TestClient


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
