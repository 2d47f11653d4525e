"""Webhook replay refusal across instances: ``SET key <claim> NX PX ttl`` in a real Redis."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

import pytest
from upstash_redis.asyncio import Redis as UpstashClient

from daloy_edge import App, KeyRing
from daloy_edge.middleware.webhooks import VerifyWebhook, WebhookConfig
from daloy_edge.ratelimit import StoreUnavailable, UpstashError, UpstashNonceStore, UpstashREST
from daloy_edge.testing import TestClient
from daloy_edge.types import NonceStore
from tests.support.redis_server import RedisServer, ShimServer


def test_upstash_nonce_store_satisfies_the_nonce_store_protocol(rest: UpstashREST):
    store: NonceStore = UpstashNonceStore(rest)
    assert callable(store.add_if_absent)


async def test_replayed_webhook_nonce_is_refused_by_another_instance(rest: UpstashREST):
    first_instance = UpstashNonceStore(rest, timeout=10)
    second_instance = UpstashNonceStore(rest, timeout=10)
    assert await first_instance.add_if_absent("t=1700000000,v1=abc", 300) is True
    assert await second_instance.add_if_absent("t=1700000000,v1=abc", 300) is False


async def test_nonce_is_accepted_again_after_its_ttl(rest: UpstashREST):
    store = UpstashNonceStore(rest, timeout=10)
    assert await store.add_if_absent("nonce", 0.2) is True
    await asyncio.sleep(0.3)
    assert await store.add_if_absent("nonce", 0.2) is True


async def test_nonce_add_is_one_round_trip_with_set_nx_px(rest: UpstashREST, shim: ShimServer):
    await UpstashNonceStore(rest, timeout=10).add_if_absent("nonce", 60)
    assert shim.stats() == {"requests": 1, "commands": {"SET": 1}}


async def test_nonce_keys_are_hashed_not_stored_in_clear(
    rest: UpstashREST, redis_server: RedisServer
):
    await UpstashNonceStore(rest, timeout=10).add_if_absent("raw-signature-value", 60)
    keys = [k.decode() for k in redis_server.client().keys("*")]
    assert len(keys) == 1
    assert keys[0].startswith("daloy:nonce:")
    assert "raw-signature-value" not in keys[0]
    assert 0 < redis_server.client().pttl(keys[0]) <= 60_000


async def test_a_discarded_nonce_is_accepted_again_by_every_instance(rest: UpstashREST):
    first_instance = UpstashNonceStore(rest, timeout=10)
    second_instance = UpstashNonceStore(rest, timeout=10)
    assert await first_instance.add_if_absent("delivery", 300) is True
    await first_instance.discard("delivery")
    assert await second_instance.add_if_absent("delivery", 300) is True


async def test_upstash_redis_client_records_a_webhook_nonce_once(shim: ShimServer):
    # The official client answers SET with True or False, not Redis' OK or nil: every
    # delivery was refused with 503 as though the store were down.
    client = UpstashClient(shim.url, shim.token, rest_retries=0)
    try:
        first_instance = UpstashNonceStore(client, timeout=10)
        second_instance = UpstashNonceStore(client, timeout=10)
        assert await first_instance.add_if_absent("delivery", 300) is True
        await first_instance.discard("delivery")
        assert await second_instance.add_if_absent("delivery", 300) is True
        assert await first_instance.add_if_absent("delivery", 300) is False
    finally:
        await client.close()


class Answering:
    """An Upstash client whose every command gets the same reply."""

    def __init__(self, reply: object) -> None:
        self.reply = reply

    async def execute(self, command: list[str]) -> object:
        return self.reply


@pytest.mark.parametrize("reply", [1, 0, "QUEUED", "", "True", [None], {"result": "OK"}])
async def test_a_reply_neither_ok_nor_nil_is_a_store_failure_not_a_replay(reply: object):
    # SET NX answers OK or nil, nothing else: another reply is a broken or tampered
    # store, and refusing the delivery as a replay would lose the event to it.
    with pytest.raises(StoreUnavailable):
        await UpstashNonceStore(Answering(reply)).add_if_absent("delivery", 300)


class LosingReplies:
    """An Upstash client whose ``SET`` reaches Redis but whose answer is lost (a reset,
    a timeout after the command ran)."""

    def __init__(self, rest: UpstashREST) -> None:
        self.rest = rest

    async def execute(self, command: list[str]) -> object:
        reply = await self.rest.execute(command)
        if command[0] == "SET":
            raise UpstashError("transport: ReadTimeout")
        return reply


async def test_a_copy_whose_answer_was_lost_does_not_forget_the_accepted_delivery(
    rest: UpstashREST,
):
    # Two copies of one delivery at once: the first is accepted; the second's SET found
    # the key taken, but its answer was lost, so the webhook middleware discards what
    # it may have recorded. Deleting the first copy's record let the next replay in.
    accepted = UpstashNonceStore(rest, timeout=10)
    assert await accepted.add_if_absent("delivery", 300) is True
    unanswered = UpstashNonceStore(LosingReplies(rest), timeout=10)
    with pytest.raises(StoreUnavailable):
        await unanswered.add_if_absent("delivery", 300)
    await unanswered.discard("delivery")
    assert await UpstashNonceStore(rest, timeout=10).add_if_absent("delivery", 300) is False


async def test_a_delivery_whose_answer_was_lost_is_forgotten_for_its_retry(rest: UpstashREST):
    unanswered = UpstashNonceStore(LosingReplies(rest), timeout=10)
    with pytest.raises(StoreUnavailable):
        await unanswered.add_if_absent("delivery", 300)
    await unanswered.discard("delivery")
    assert await UpstashNonceStore(rest, timeout=10).add_if_absent("delivery", 300) is True


async def test_a_replay_store_outage_logs_one_line_per_ten_seconds_not_one_per_delivery(
    rest: UpstashREST, shim: ShimServer, caplog: pytest.LogCaptureFixture
):
    # Every signed delivery in an outage failed to be recorded, then to be forgotten, and
    # each wrote its own warning: the log flooded at the senders' delivery rate.
    now = [1_700_000_000.0]
    secret = "webhook-secret-0123456789abcdef"
    store = UpstashNonceStore(rest, timeout=10, first_timeout=10)
    config = WebhookConfig(secrets=KeyRing([secret]), store=store, clock=lambda: now[0])
    app = App(env={})

    @app.post("/hook", middleware=[VerifyWebhook(config)])
    async def hook(request):  # type: ignore[no-untyped-def]
        return {"received": True}

    shim.fail_next(502, "<html>Bad Gateway</html>", content_type="text/html", times=40)
    statuses = []
    with caplog.at_level(logging.WARNING, logger="daloy_edge.webhooks"):
        async with TestClient(app) as client:
            for i in range(20):  # a record and a forget each, a second apart
                body = f'{{"id": {i}}}'.encode()
                stamp = str(int(now[0]))
                mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
                headers = {"x-signature": f"t={stamp},v1={mac.hexdigest()}"}
                answer = await client.arequest("POST", "/hook", content=body, headers=headers)
                statuses.append(answer.status_code)
                now[0] += 1
    assert statuses == [503] * 20
    warned = [r.getMessage() for r in caplog.records if r.name == "daloy_edge.webhooks"]
    assert warned == [
        "webhook replay store unavailable (UpstashError: HTTP 502 without a JSON reply): a"
        " failed delivery may stay recorded, and its retry be refused as a replay (1 failures"
        " since last log)",
        "webhook replay store unavailable (UpstashError: HTTP 502 without a JSON reply): a"
        " failed delivery may stay recorded, and its retry be refused as a replay (10 failures"
        " since last log)",
    ]
