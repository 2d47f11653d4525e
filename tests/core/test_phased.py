"""Before/after middleware composed into one coroutine behaves like nesting them one by one.

The oracle is the same middleware run unfused: a subclass that defines its own
``__call__`` (delegating to the base one) is composed as an ordinary layer.
"""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from daloy_edge import App, Forbidden, Request, Response
from daloy_edge._chain import chain
from daloy_edge._phased import Phased, fuse, is_phased
from daloy_edge._problem import render_error
from daloy_edge.testing import TestClient

# What a middleware does in each phase.
GO, ANSWER, RAISE, WAIT_GO, WAIT_ANSWER, WAIT_RAISE = range(6)
BEFORE_ACTS = (None, GO, ANSWER, RAISE, WAIT_GO, WAIT_ANSWER, WAIT_RAISE)
AFTER_ACTS = (None, GO, RAISE, ANSWER)


class Step(Phased):
    """Logs each phase into the request's state, and answers or raises on demand."""

    def __init__(self, name: str, before: int | None, after: int | None) -> None:
        self.name, self.on_before, self.on_after = name, before, after
        # Only the phases asked for are defined, so fuse() meets both kinds.
        if before is None:
            self.before = super().before  # type: ignore[method-assign]
        if after is None:
            self.after = super().after  # type: ignore[method-assign]

    def before(self, request: Request) -> Response | asyncio.Future[Response | None] | None:
        log(request, f"{self.name}.before")
        act = self.on_before
        if act == ANSWER:
            return Response.text(f"{self.name} answered", status=299)
        if act == RAISE:
            raise Forbidden(f"{self.name} refused", slug="refused")
        if act in (WAIT_GO, WAIT_ANSWER, WAIT_RAISE):
            return self._wait(request, act)  # type: ignore[return-value]
        return None

    async def _wait(self, request: Request, act: int) -> Response | None:
        await asyncio.sleep(0)
        log(request, f"{self.name}.waited")
        if act == WAIT_ANSWER:
            return Response.text(f"{self.name} answered late", status=298)
        if act == WAIT_RAISE:
            raise Forbidden(f"{self.name} refused late", slug="refused")
        return None

    def after(self, request: Request, response: Response) -> Response:
        log(request, f"{self.name}.after")
        if self.on_after == RAISE:
            raise ValueError(f"{self.name} broke")
        if self.on_after == ANSWER:
            return Response.text(f"{self.name} replaced {response.status}", status=297)
        response.headers.add("x-trail", self.name)
        return response


class Layered(Step):
    """The same middleware, run as an ordinary layer."""

    async def __call__(self, request, call_next):  # type: ignore[no-untyped-def]
        return await super().__call__(request, call_next)


def log(request: Request, entry: str) -> None:
    request.state.setdefault("log", []).append(entry)  # type: ignore[union-attr]


async def endpoint(request: Request) -> Response:
    log(request, "handler")
    return Response.json({"ok": True})


def outcome(middleware: list[Step]) -> tuple[object, ...]:
    handler = chain(middleware, endpoint)
    request = Request("GET", "/x")
    response = asyncio.run(handler(request))
    return (
        response.status,
        response.body,
        response.headers.get_all("x-trail"),
        tuple(request.state.get("log", ())),  # type: ignore[arg-type]
    )


def spec_cases() -> list[list[tuple[int | None, int | None]]]:
    rng = random.Random(20261206)
    cases = [[(b, a)] for b, a in itertools.product(BEFORE_ACTS, AFTER_ACTS)]
    for size in (2, 3, 4, 6):
        for _ in range(60):
            cases.append([(rng.choice(BEFORE_ACTS), rng.choice(AFTER_ACTS)) for _ in range(size)])
    return cases


@pytest.mark.parametrize("spec", spec_cases())
def test_fused_run_matches_nesting(spec: list[tuple[int | None, int | None]]) -> None:
    fused = [Step(f"m{i}", b, a) for i, (b, a) in enumerate(spec)]
    nested = [Layered(f"m{i}", b, a) for i, (b, a) in enumerate(spec)]
    assert all(is_phased(mw) for mw in fused)
    assert not any(is_phased(mw) for mw in nested)
    assert outcome(fused) == outcome(nested)


def test_mixed_chain_keeps_order_around_plain_middleware() -> None:
    async def plain(request, call_next):  # type: ignore[no-untyped-def]
        log(request, "plain.before")
        response = await call_next(request)
        log(request, "plain.after")
        return response

    mixed = [Step("a", GO, GO), plain, Step("b", GO, GO), Step("c", None, GO), plain]
    layered = [Layered("a", GO, GO), plain, Layered("b", GO, GO), Layered("c", None, GO), plain]
    assert outcome(mixed) == outcome(layered)
    assert outcome(mixed)[3] == (
        "a.before",
        "plain.before",
        "b.before",
        "plain.before",
        "handler",
        "plain.after",
        "c.after",
        "b.after",
        "plain.after",
        "a.after",
    )


def test_a_subclass_with_its_own_call_is_not_fused() -> None:
    calls: list[str] = []

    class Custom(Step):
        async def __call__(self, request, call_next):  # type: ignore[no-untyped-def]
            calls.append("custom")
            return await call_next(request)

    status, *_ = outcome([Step("a", GO, GO), Custom("b", RAISE, RAISE)])
    # Its own __call__ ran, and never the phases it inherited.
    assert calls == ["custom"] and status == 200


def test_the_base_call_runs_the_phases_directly() -> None:
    async def call_next(request: Request) -> Response:
        return Response.json({"ok": True})

    request = Request("GET", "/x")
    response = asyncio.run(Step("a", WAIT_ANSWER, GO)(request, call_next))
    assert response.status == 298  # answered early: its own after is skipped
    assert request.state["log"] == ["a.before", "a.waited"]


def test_fuse_renders_errors_where_the_middleware_stands() -> None:
    handler = fuse([Step("a", GO, GO), Step("b", RAISE, GO)], endpoint, render_error)
    request = Request("GET", "/x")
    response = asyncio.run(handler(request))
    assert response.status == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers.get_all("x-trail") == ["a"]


def test_app_wide_and_route_middleware_fuse_in_an_app() -> None:
    app = App(env={"DALOY_ENV": "production"}, middleware=[Step("app", GO, GO)])

    @app.get("/r", middleware=[Step("route", GO, RAISE)])
    async def route(request: Request) -> dict[str, bool]:
        return {"ok": True}

    response = TestClient(app).get("/r")
    assert response.status == 500
    assert response.headers["x-trail"] == "app"
    assert "broke" not in response.text


def test_middleware_returning_none_inside_a_phased_one_is_named_in_the_log_not_the_phased() -> None:
    errors: list[BaseException | None] = []

    class Errors:
        def on_response(self, request: Request, response: Response, duration_s: float, error):
            errors.append(error)

    async def forgets(request: Request, call_next) -> None:  # no return
        await call_next(request)

    app = App(request_log=False, observers=[Errors()], middleware=[Step("app", GO, GO)])

    @app.get("/r", middleware=[forgets])
    async def route(request: Request) -> dict[str, bool]:
        return {"ok": True}

    response = TestClient(app).get("/r")
    assert response.status == 500
    assert isinstance(errors[0], TypeError)
    assert "inside Step answered with NoneType, not a Response" in str(errors[0])
