from __future__ import annotations

from daloy_edge import App, Response, use
from daloy_edge.testing import TestClient


def make_app() -> App:
    app = App()

    @app.get("/items/{item_id}")
    async def item(request):
        return {"id": request.path_params["item_id"]}

    @app.post("/items")
    def create(request):
        return Response.json({"created": True}, status=201)

    return app


def test_routes_path_parameters():
    client = TestClient(make_app())
    assert client.get("/items/42").json() == {"id": "42"}


def test_sync_handler_is_accepted():
    assert TestClient(make_app()).post("/items").status == 201


def test_unknown_route_is_problem_404():
    response = TestClient(make_app()).get("/nope")
    assert response.status == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_wrong_method_is_405_with_allow():
    response = TestClient(make_app()).delete("/items")
    assert response.status == 405
    assert response.headers["allow"] == "POST"


def test_use_decorator_wraps_one_route_only():
    seen: list[str] = []

    async def tag(request, call_next):
        seen.append(request.path)
        response = await call_next(request)
        response.headers["x-tagged"] = "1"
        return response

    app = App()

    @app.get("/tagged")
    @use(tag)
    async def tagged(request):
        return {"ok": True}

    @app.get("/plain")
    async def plain(request):
        return {"ok": True}

    client = TestClient(app)
    assert client.get("/tagged").headers["x-tagged"] == "1"
    assert "x-tagged" not in client.get("/plain").headers
    assert seen == ["/tagged"]
