"""Server-Timing phases: measured per phase, shown only to those allowed to see them."""

from __future__ import annotations

import asyncio

import pytest

from daloy_edge import App, ConfigError, Request, Response
from daloy_edge.observability import Timed, phase, trusted_clients
from daloy_edge.testing import TestClient


class SlowAuth:
    async def __call__(self, request, call_next):
        await asyncio.sleep(0.02)
        return await call_next(request)


def make_app(**options: object) -> App:
    app = App(env={}, request_log=False, middleware=[Timed("auth", SlowAuth())], **options)

    @app.get("/work")
    async def work(request: Request) -> Response:
        with phase(request, "db"):
            await asyncio.sleep(0.01)
        return Response.json({})

    return app


def entries(header: str) -> dict[str, float]:
    found = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        found[name] = float(dur)
    return found


def test_phases_are_shown_by_default():
    header = TestClient(make_app()).get("/work").headers["server-timing"]
    assert list(entries(header)) == ["db", "handler", "auth", "total"]


def test_switch_hides_phases_leaving_total():
    header = TestClient(make_app(server_timing_phases=False)).get("/work").headers["server-timing"]
    assert list(entries(header)) == ["total"]


def test_timed_middleware_excludes_time_spent_downstream():
    timings = entries(TestClient(make_app()).get("/work").headers["server-timing"])
    assert timings["auth"] >= 20
    assert timings["auth"] < timings["total"] - timings["handler"] + 1


def test_phases_shown_only_to_trusted_clients():
    app = make_app(server_timing_phases=trusted_clients("10.0.0.0/8"))
    client = TestClient(app)
    assert "auth" in entries(client.get("/work", client="10.1.2.3").headers["server-timing"])
    assert "auth" not in entries(client.get("/work", client="203.0.113.9").headers["server-timing"])


@pytest.mark.parametrize("cidrs", [(), ("",), (" ", "")])
def test_no_trusted_cidr_shows_phases_to_nobody(cidrs):
    client = TestClient(make_app(server_timing_phases=trusted_clients(*cidrs)))
    for address in ("127.0.0.1", "10.1.2.3", "::1"):
        response = client.get("/work", client=address)
        assert list(entries(response.headers["server-timing"])) == ["total"]


def test_a_request_without_a_client_address_gets_no_phases():
    allowed = trusted_clients("0.0.0.0/1", "128.0.0.0/1")
    assert allowed(Request("GET", "/", client="10.1.2.3")) is True
    assert allowed(Request("GET", "/", client=None)) is False
    assert allowed(Request("GET", "/", client="")) is False


def test_each_client_keeps_its_own_answer_as_the_memo_turns_over(monkeypatch):
    # The attack: an outside client reading internal phase timings (a timing side channel
    # into auth and storage) because a trusted client's remembered answer was served to it.
    from daloy_edge._netaddr import NetworkSet
    from daloy_edge.observability import _timing

    checks = []
    contains = NetworkSet.__contains__

    def counted(self, address):
        checks.append(address)
        return contains(self, address)

    monkeypatch.setattr(NetworkSet, "__contains__", counted)
    monkeypatch.setattr(_timing, "_ANSWERS_KEPT", 3)
    allowed = trusted_clients("10.0.0.0/8")
    inside = [f"10.0.0.{n}" for n in range(5)]
    outside = [f"203.0.113.{n}" for n in range(5)]
    for _ in range(2):
        for a, b in zip(inside, outside, strict=True):
            assert allowed(Request("GET", "/", client=a)) is True
            assert allowed(Request("GET", "/", client=b)) is False
    assert len(checks) == 20  # a full memo starts over: every address is checked again
    checks.clear()
    for _ in range(3):
        assert allowed(Request("GET", "/", client="10.9.9.9")) is True
    assert checks == ["10.9.9.9"]  # a returning client: one check, then the memo


def test_forwarded_header_does_not_unlock_phases():
    app = make_app(server_timing_phases=trusted_clients("10.0.0.0/8"))
    response = TestClient(app).get(
        "/work", client="203.0.113.9", headers={"x-forwarded-for": "10.0.0.1"}
    )
    assert list(entries(response.headers["server-timing"])) == ["total"]


def test_phase_is_recorded_when_the_block_raises():
    request = Request("GET", "/")
    with pytest.raises(ValueError), phase(request, "db"):
        raise ValueError("x")
    assert request.timings[0][0] == "db"


@pytest.mark.parametrize("name", ["has space", "semi;colon", "", "x" * 65])
def test_phase_name_must_be_a_token(name):
    with pytest.raises(ConfigError):
        Timed(name, SlowAuth())


def test_invalid_trusted_cidr_refuses_to_build():
    with pytest.raises(ConfigError):
        trusted_clients("10.0.0.0/33")


def test_a_phases_predicate_that_raises_shows_total_only_and_the_request_is_answered():
    """A predicate reading a header the request lacks raised after the answer was made:
    the request left the app with no answer and no log line."""
    from daloy_edge.observability import LogConfig, MemorySink, RequestLog

    sink = MemorySink()
    app = App(
        env={},
        request_log=RequestLog(LogConfig(stdout=False, sinks=[sink])),
        server_timing_phases=lambda request: request.headers["x-debug"] == "1",
    )

    @app.get("/work")
    async def work(request: Request) -> Response:
        with phase(request, "db"):
            pass
        return Response.json({})

    client = TestClient(app)
    response = client.get("/work")
    assert response.status == 200
    assert list(entries(response.headers["server-timing"])) == ["total"]
    assert "x-request-id" in response.headers
    assert len(sink.records) == 1
    shown = client.get("/work", headers={"x-debug": "1"})
    assert "db" in entries(shown.headers["server-timing"])
