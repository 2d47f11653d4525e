"""Webhook replay refusal against a model, under random deliveries, handler outcomes and
clock moves (the wall clock may step back; the replay store's runs on).

The model: a delivery is accepted when its timestamp is within the tolerance of the wall
clock, in whole seconds both ways, and it is not recorded; an accepted delivery stays
recorded for twice the tolerance and two seconds more, unless its handling failed (an
exception, a 5xx, a streamed body that failed), which forgets it so the sender's retry is
handled. A 4xx keeps it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import AsyncIterator

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from daloy_edge import App, KeyRing, NotFound, Response, ServiceUnavailable
from daloy_edge.middleware.webhooks import VerifyWebhook, WebhookConfig
from daloy_edge.nonce_store import MemoryNonceStore
from daloy_edge.testing import TestClient

SECRET = "webhook-secret-0123456789abcdef"
STATUS = {"ok": 200, "404": 404, "stream": 200, "500": 500, "raise": 500, "503": 503}
STATUS["stream-fails"] = 500
KEPT = ("ok", "404", "stream")


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def chunks(fail: bool) -> AsyncIterator[bytes]:
    yield b"{"
    if fail:
        raise RuntimeError("export failed")
    yield b"}"


class WebhookMachine(RuleBasedStateMachine):
    @initialize(tolerance=st.sampled_from((1, 2, 0.5, 1.5)))
    def build(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self.wall, self.monotonic = Clock(), Clock()
        store = MemoryNonceStore(clock=self.monotonic)
        config = WebhookConfig(
            secrets=KeyRing([SECRET]), tolerance=tolerance, clock=self.wall, store=store
        )
        app = App(request_log=False)
        self.outcome = "ok"

        @app.post("/hook", middleware=[VerifyWebhook(config)])
        async def hook(request: object) -> Response:
            outcome = self.outcome
            if outcome == "raise":
                raise RuntimeError("handler failed")
            if outcome == "404":
                raise NotFound("no such order")
            if outcome == "503":
                raise ServiceUnavailable("try later")
            if outcome.startswith("stream"):
                return Response(stream=chunks(outcome == "stream-fails"))
            return Response(b"{}", status=int(STATUS[outcome]))

        self.client = TestClient(app)
        self.stamps: dict[int, int] = {}
        self.recorded: dict[int, float] = {}  # event -> when the store forgets it

    @rule(
        event=st.integers(0, 3),
        edge=st.sampled_from((-2, -1, 0, 1, 2)),
        outcome=st.sampled_from(tuple(STATUS)),
    )
    def deliver(self, event: int, edge: int, outcome: str) -> None:
        if event not in self.stamps:
            # A new event is stamped at or just past either edge of the tolerance.
            width = math.floor(self.tolerance)
            shift = {-2: -width - 1, -1: -width, 0: 0, 1: width, 2: width + 1}[edge]
            self.stamps[event] = math.floor(self.wall.now) + shift
        stamp = self.stamps[event]
        body = f'{{"event":{event}}}'.encode()
        mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        headers = {"x-signature": f"t={stamp},v1={mac.hexdigest()}"}
        self.outcome = outcome
        try:
            status = self.client.post("/hook", content=body, headers=headers).status
        except RuntimeError:
            # A streamed body that fails mid-way is cut off, as a server would.
            status = 500
        inside = abs(math.floor(self.wall.now) - stamp) <= self.tolerance
        recorded = self.recorded.get(event, -math.inf) > self.monotonic.now
        if not inside or recorded:
            assert status == 401, (status, inside, recorded)
            return
        assert status == STATUS[outcome]
        if outcome in KEPT:
            self.recorded[event] = self.monotonic.now + 2 * self.tolerance + 2
        else:
            self.recorded.pop(event, None)

    @rule(tolerances=st.sampled_from((0, 1, 2)), seconds=st.sampled_from((0.5, 1, 2)))
    def advance(self, tolerances: int, seconds: float) -> None:
        # Moves measured from the tolerance's edges, where a stamp turns stale.
        self.wall.now += tolerances * self.tolerance + seconds
        self.monotonic.now += tolerances * self.tolerance + seconds

    @rule(seconds=st.sampled_from((0.5, 1, 5)))
    def wall_clock_steps_back(self, seconds: float) -> None:
        self.wall.now -= seconds


TestWebhookReplayModel = WebhookMachine.TestCase
# Derandomized, no deadline: tests/conftest.py's profile.
TestWebhookReplayModel.settings = settings(max_examples=100, stateful_step_count=30)
