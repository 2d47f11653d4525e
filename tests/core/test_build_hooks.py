from __future__ import annotations

import pytest

from daloy_edge import App, ConfigError, KeyRing, Router, use
from daloy_edge.middleware.cors import CORS
from daloy_edge.middleware.ratelimit import RateLimit, RateLimitConfig
from daloy_edge.middleware.secure_headers import SecureHeaders
from daloy_edge.middleware.shedding import LoadShedding, LoadSheddingConfig
from daloy_edge.middleware.webhooks import VerifyWebhook, WebhookConfig
from daloy_edge.observability import _sinks
from daloy_edge.testing import TestClient
from tests.support.calls import calls_made


class Checked:
    def __init__(self, refuse: bool = False) -> None:
        self.calls = 0
        self.refuse = refuse

    def check_app(self, app: App) -> None:
        self.calls += 1
        if self.refuse:
            raise ConfigError("refused")

    async def __call__(self, request, call_next):
        return await call_next(request)


class Marker:
    def __init__(self) -> None:
        self.rejected: list[int] = []

    def on_rejected(self, request, response) -> None:
        self.rejected.append(response.status)
        response.headers["x-marked"] = "1"

    async def __call__(self, request, call_next):
        response = await call_next(request)
        response.headers["x-marked"] = "1"
        return response


def test_check_app_runs_once_per_middleware_object_at_build():
    checked = Checked()
    app = App()

    @app.get("/x", middleware=[checked])
    async def x(request):
        return None

    @app.get("/y", middleware=[checked])
    async def y(request):
        return None

    app.build()
    app.build()
    assert checked.calls == 1


def test_check_app_can_refuse_the_build():
    app = App(middleware=[Checked(refuse=True)])
    with pytest.raises(ConfigError):
        app.build()


def _limited_routes_app(count: int) -> App:
    app = App(request_log=False)

    async def answer(request):  # type: ignore[no-untyped-def]
        return {}

    for n in range(count):
        limit = RateLimit(RateLimitConfig(name=f"route-{n}", limit=10, window=60))
        app.add_route(f"/r{n}", answer, ["GET"], middleware=[limit])
    return app


def test_a_rate_limit_on_each_of_many_routes_is_checked_in_time_linear_in_the_routes():
    # Each rate limit's build check listed and scanned every route: 800 routes, each
    # with its own limit, made 7 million calls in the first request of a cold start.
    per_route = []
    for count in (100, 400):
        app = _limited_routes_app(count)
        per_route.append(calls_made(app.build) / count)
    assert per_route[1] < per_route[0] * 1.25


def _order_checked_app(count: int, *, checked: bool) -> App:
    from daloy_edge.middleware.client_ip import TrustedProxies, TrustedProxiesConfig
    from daloy_edge.middleware.cors import CORSConfig
    from daloy_edge.middleware.scopes import requires

    if checked:  # each refuses to build when listed in the wrong place
        middleware = [
            TrustedProxies(TrustedProxiesConfig(proxies=("127.0.0.1/32",))),
            CORS(CORSConfig(allow_origins=("https://app.example",))),
            requires("read"),
        ]
    else:
        middleware = [SecureHeaders(), SecureHeaders(), SecureHeaders()]
    app = App(middleware=middleware, request_log=False)

    async def answer(request):  # type: ignore[no-untyped-def]
        return {}

    for n in range(count):
        app.add_route(f"/r{n}", answer, ["GET"])
    return app


def test_order_checks_scan_the_app_wide_chain_once_for_routes_without_their_own():
    # TrustedProxies, CORS and requires() each rebuilt and scanned the app-wide chain
    # for every route that adds no middleware to it, the same chain each time: a cold
    # start's build checks cost the reference app a third more than they needed.
    extra = []
    for count in (100, 400):
        checked = calls_made(_order_checked_app(count, checked=True).build)
        unchecked = calls_made(_order_checked_app(count, checked=False).build)
        extra.append(checked - unchecked)
    assert extra[1] - extra[0] < 300  # under one call for each route added


def test_a_mounts_middleware_is_checked_once_not_once_for_each_of_its_routes():
    # Each middleware object was inspected (its signature read) again for every route
    # of the mount it is on.
    per_route = []
    for count in (100, 400):
        router = Router()

        async def answer(request):  # type: ignore[no-untyped-def]
            return {}

        for n in range(count):
            router.add_route(f"/r{n}", answer, ["GET"])
        app = App(request_log=False)
        app.mount("/m", router, middleware=[SecureHeaders(), SecureHeaders(), SecureHeaders()])
        bare = App(request_log=False)
        bare.mount("/m", router)
        per_route.append(calls_made(app._run_build_checks) - calls_made(bare._run_build_checks))
    assert (per_route[1] - per_route[0]) / 300 < 20


def test_a_rate_limit_applied_app_wide_and_again_on_a_route_refuses_to_build():
    # Each request was counted twice: a limit of 3 a minute let 1 request through.
    limit = RateLimit(RateLimitConfig(limit=3, window=60))
    app = App(middleware=[limit])

    @app.get("/x", middleware=[limit])
    async def x(request):
        return None

    with pytest.raises(ConfigError, match="RateLimit object runs twice on GET /x"):
        app.build()


def test_a_webhook_verifier_on_a_mount_and_again_through_use_refuses_to_build():
    # The inner one found the delivery the outer one had just recorded: every valid
    # delivery was refused as a replay (401).
    verify = VerifyWebhook(WebhookConfig(secrets=KeyRing(["s" * 32])))
    router = Router()

    @router.post("/ingest")
    @use(verify)
    async def ingest(request):
        return None

    app = App()
    app.mount("/hooks", router, middleware=[verify])
    with pytest.raises(ConfigError, match="VerifyWebhook object runs twice on POST /hooks/ingest"):
        app.build()


def test_a_load_shedder_listed_twice_app_wide_refuses_to_build():
    # With one slot, the second pass waited for the slot the first pass held: every
    # request was shed (503).
    shed = LoadShedding(LoadSheddingConfig(max_concurrent=1, max_queue=0))
    app = App(middleware=[shed, shed])
    with pytest.raises(ConfigError, match="LoadShedding object runs twice on every request"):
        app.build()


def test_route_middleware_lists_mount_route_and_decorator_middleware_in_order():
    outer, inner, deco = Checked(), Checked(), Checked()
    router = Router()

    @router.post("/item", middleware=[inner])
    @use(deco)
    async def item(request):
        return None

    app = App()
    app.mount("/api", router, middleware=[outer])
    assert app.route_middleware() == [("/api/item", "POST", (outer, inner, deco))]


def test_on_rejected_marks_responses_the_guard_refused():
    marker = Marker()
    app = App(middleware=[marker])
    response = TestClient(app).get("/a/%2e%2e/b")
    assert response.status == 400
    assert response.headers["x-marked"] == "1"
    assert marker.rejected == [400]


def test_on_rejected_marks_the_deadline_504():
    import asyncio

    marker = Marker()
    app = App(middleware=[marker], request_timeout=0.05)

    @app.get("/slow")
    async def slow(request):
        await asyncio.sleep(1)

    response = TestClient(app).get("/slow")
    assert response.status == 504
    assert response.headers["x-marked"] == "1"
    assert marker.rejected == [504]


def test_middleware_given_as_a_class_refuses_to_build_rather_than_answer_every_request_500():
    app = App()

    @app.get("/x", middleware=[SecureHeaders])  # type: ignore[list-item]
    async def x(request):
        return None

    with pytest.raises(ConfigError, match=r"SecureHeaders is a class; pass an instance"):
        app.build()


def test_a_middleware_class_with_on_rejected_refuses_to_build_rather_than_raise_out_of_the_app():
    app = App(middleware=[CORS])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="CORS is a class"):
        TestClient(app).get("/a/%2e%2e/b")


class AsgiMiddleware:
    """Shaped as Starlette's middleware: built around an ASGI app, called per connection."""

    def __init__(self, app: object) -> None:
        self.app = app

    async def __call__(self, scope: object, receive: object, send: object) -> None:
        return None


def test_an_asgi_middleware_class_refuses_to_build_naming_asgi():
    app = App(middleware=[AsgiMiddleware])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="ASGI middleware class"):
        app.build()


def test_an_asgi_middleware_instance_refuses_to_build_naming_asgi():
    app = App(middleware=[AsgiMiddleware(app=None)])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match=r"AsgiMiddleware cannot be called .*ASGI middleware"):
        app.build()


class TakesTheRequestOnly:
    async def __call__(self, request):
        return None


async def takes_a_third(request, call_next, extra):
    return await call_next(request)


async def takes_a_keyword(request, call_next, *, extra):
    return await call_next(request)


@pytest.mark.parametrize(
    "middleware", [TakesTheRequestOnly(), takes_a_third, takes_a_keyword, None, "cors"]
)
def test_middleware_that_cannot_take_request_and_call_next_refuses_to_build(middleware):
    router = Router()

    @router.get("/x")
    async def x(request):
        return None

    app = App()
    app.mount("/api", router, middleware=[middleware])
    with pytest.raises(ConfigError, match=r"mw\(request, call_next\)"):
        app.build()


def test_use_refuses_a_middleware_class_where_it_decorates():
    with pytest.raises(ConfigError, match="is a class"):
        use(SecureHeaders)  # type: ignore[arg-type]


class WithDefaults:
    async def __call__(self, request, call_next=None, extra=None):
        return await call_next(request)


async def takes_any(*args):
    return await args[1](args[0])


class Methods:
    async def handle(self, request, call_next):
        return await call_next(request)


class StaticCall:
    @staticmethod
    async def __call__(request, call_next):
        return await call_next(request)


@pytest.mark.parametrize("middleware", [WithDefaults(), takes_any, Methods().handle, StaticCall()])
def test_middleware_that_takes_request_and_call_next_in_other_shapes_builds(middleware):
    app = App(middleware=[middleware], request_log=False)

    @app.get("/x")
    async def x(request):
        return {"ok": True}

    assert TestClient(app).get("/x").json() == {"ok": True}


class BrokenMarker(Marker):
    def on_rejected(self, request, response) -> None:
        super().on_rejected(request, response)
        raise KeyError("user")


def test_an_on_rejected_hook_that_raises_still_answers_and_logs_the_refused_request(
    capfd, monkeypatch
):
    monkeypatch.setattr(_sinks, "_complained", set())  # reported once per process
    app = App(middleware=[BrokenMarker(), SecureHeaders()])
    response = TestClient(app).get("/a/%2e%2e/b")
    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"
    captured = capfd.readouterr()
    assert '"http.response.status_code":400' in captured.out
    assert "on_rejected of BrokenMarker failed: KeyError" in captured.err


def test_an_observer_added_once_the_app_serves_is_refused():
    # Added then, it was told how each request ended but never that it began: its
    # on_request was looked up when the app was built.
    class Counter:
        def __init__(self) -> None:
            self.begun = self.ended = 0

        def on_request(self, request) -> None:
            self.begun += 1

        def on_response(self, request, response, duration_s, error) -> None:
            self.ended += 1

    app = App()

    @app.get("/x")
    async def x(request):
        return {"ok": True}

    client = TestClient(app)
    client.get("/x")
    with pytest.raises(ConfigError, match="already serving"):
        app.observe(Counter())
