"""SecretsManagerKeyRing against a model of its promises, under random sequences of reads,
forced refreshes, rotations, outages and clock moves (a real moto server; an outage is a
client of an endpoint nothing listens on).

The promises: a ring is served only as fetched by the latest fetch that succeeded, and
only within ``ttl + max_stale`` of it; within ``ttl`` no read calls Secrets Manager; and
no two calls are closer than ``min_refresh_interval``, however many reads and refreshes
arrive.
"""

from __future__ import annotations

import contextlib
import io
import itertools

import pytest
from daloy_edge_aws_lambda.secrets_manager import KeyRingUnavailable, SecretsManagerKeyRing
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from daloy_edge import KeyRing
from tests.adapters.aws_lambda.aws_services.conftest import MotoServer

pytestmark = pytest.mark.slow

SETTINGS = settings(max_examples=40, stateful_step_count=25)  # tests/conftest.py's profile


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class KeyRingMachine(RuleBasedStateMachine):
    secrets = itertools.count()

    def __init__(self, moto: MotoServer) -> None:
        super().__init__()
        self.up_client = moto.client("secretsmanager")
        # Never started; no retry of the refused connection (its backoff sleeps were a
        # sixth of the run): the outage fails at once, as it does after a retry.
        self.down_client = MotoServer().client("secretsmanager", attempts=1)

    @initialize(
        ttl=st.sampled_from((10.0, 60.0)),
        max_stale=st.sampled_from((0.0, 20.0, 100.0)),
        min_refresh_interval=st.sampled_from((0.0, 5.0)),
    )
    def build(self, ttl: float, max_stale: float, min_refresh_interval: float) -> None:
        self.name = f"keys/model-{next(self.secrets)}"
        self.versions = [self.key()]
        self.up_client.create_secret(Name=self.name, SecretString=self.versions[0])
        self.clock = Clock()
        self.ttl, self.max_stale, self.interval = ttl, max_stale, min_refresh_interval
        self.source = SecretsManagerKeyRing(
            self.name,
            client=self.up_client,
            ttl=ttl,
            max_stale=max_stale,
            min_refresh_interval=min_refresh_interval,
            clock=self.clock,
        )
        self.up = True
        self.fetched: tuple[list[bytes], float] | None = None  # keys, when
        self.last_call: float | None = None

    def key(self) -> str:
        return f"{next(self.secrets):032d}"

    def expected_keys(self) -> list[bytes]:
        return [key.encode() for key in reversed(self.versions[-2:])]

    def call(self, method: str) -> KeyRing | None:
        fetches = self.source.fetches
        with contextlib.redirect_stderr(io.StringIO()):
            try:
                ring = getattr(self.source, method)()
            except KeyRingUnavailable:
                ring = None
        now = self.clock.now
        if self.source.fetches > fetches:
            if self.last_call is not None:
                assert now - self.last_call >= min(self.interval, self.ttl), "calls too close"
            self.last_call = now
            if self.up:
                self.fetched = (self.expected_keys(), now)
        if ring is not None:
            assert self.fetched is not None, "a ring served that no fetch returned"
            keys, when = self.fetched
            assert [key.reveal() for key in ring] == keys
            assert now - when < self.ttl + self.max_stale, "a ring served past max_stale"
        return ring

    @rule()
    def get(self) -> None:
        fresh = self.fetched is not None and self.clock.now - self.fetched[1] < self.ttl
        fetches = self.source.fetches
        ring = self.call("get")
        if fresh:
            assert ring is not None and self.source.fetches == fetches

    @rule()
    def refresh(self) -> None:
        self.call("refresh")

    @rule()
    def bad_signature(self) -> None:
        # A request whose value verifies under no key of the ring it got forces a refresh
        # at once, in case the keys were rotated since.
        self.call("get")
        self.call("refresh")

    @rule(seconds=st.sampled_from((1.0, 4.0, 5.0, 10.0, 30.0, 61.0, 200.0)))
    def advance(self, seconds: float) -> None:
        self.clock.now += seconds

    @rule()
    def outage_begins_or_ends(self) -> None:
        self.up = not self.up
        self.source._client = self.up_client if self.up else self.down_client

    @rule()
    def rotate(self) -> None:
        self.versions.append(self.key())
        self.up_client.put_secret_value(SecretId=self.name, SecretString=self.versions[-1])


def test_the_key_ring_keeps_its_promises_through_rotations_and_outages(moto: MotoServer) -> None:
    run_state_machine_as_test(lambda: KeyRingMachine(moto), settings=SETTINGS)
