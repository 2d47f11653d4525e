from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator

import pytest

from daloy_edge import App, ConfigError, KeyRing
from daloy_edge.middleware.webhooks import WEBHOOK_STATE, VerifyWebhook, WebhookConfig
from daloy_edge.nonce_store import MemoryNonceStore
from daloy_edge.ratelimit import StoreUnavailable
from daloy_edge.testing import TestClient
from daloy_edge.webhooks import VerifiedWebhook

SECRET = "webhook-secret-0123456789abcdef"
NOW = 1_700_000_000
BODY = b'{"zen":"keep it simple"}'


class RecordingStore:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    async def add_if_absent(self, key: str, ttl_s: float) -> bool:
        self.calls.append((key, ttl_s))
        return True


def make_app(**config: object) -> App:
    settings = {"secrets": KeyRing([SECRET]), "clock": lambda: NOW, **config}
    app = App()

    @app.post("/hook", middleware=[VerifyWebhook(WebhookConfig(**settings))])  # type: ignore[arg-type]
    async def hook(request):
        delivery = request.state[WEBHOOK_STATE]
        assert isinstance(delivery, VerifiedWebhook)
        return {"parsed": await request.json(), "timestamp": delivery.timestamp}

    return app


def test_handler_parses_the_body_after_verification():
    mac = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    response = TestClient(make_app()).post(
        "/hook",
        content=BODY,
        headers={"content-type": "application/json", "x-signature": f"t={NOW},v1={mac}"},
    )
    assert response.json() == {"parsed": {"zen": "keep it simple"}, "timestamp": NOW}


def github_headers(delivery_id: str | None = None) -> dict[str, str]:
    mac = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-hub-signature-256": f"sha256={mac}"}
    if delivery_id is not None:
        headers["x-github-delivery"] = delivery_id
    return headers


def test_github_scheme_verifies_hub_signature():
    headers = github_headers("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    response = TestClient(make_app(scheme="github")).post("/hook", content=BODY, headers=headers)
    assert response.status == 200


GITHUB_MAC = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha1=" + GITHUB_MAC,
        GITHUB_MAC,
        "sha256=" + "zz" * 32,
        "sha256=" + GITHUB_MAC[:63],
        "sha256=" + GITHUB_MAC + "00",
    ],
    ids=["missing", "empty", "other-algorithm", "no-prefix", "not-hex", "short", "long"],
)
def test_github_delivery_with_a_missing_or_malformed_signature_is_a_401_not_a_500(signature):
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    response = TestClient(make_app(scheme="github")).post("/hook", content=BODY, headers=headers)
    assert (response.status, response.headers["content-type"]) == (401, "application/problem+json")


def test_github_replay_with_a_new_delivery_id_is_refused():
    # The replay: GitHub signs only the body, so a captured delivery resent with a
    # made-up X-GitHub-Delivery passed a replay check keyed on that id.
    client = TestClient(make_app(scheme="github"))
    assert client.post("/hook", content=BODY, headers=github_headers("d-1")).status == 200
    assert client.post("/hook", content=BODY, headers=github_headers("d-2")).status == 401


def test_github_replay_without_a_delivery_id_is_refused():
    client = TestClient(make_app(scheme="github"))
    assert client.post("/hook", content=BODY, headers=github_headers("d-1")).status == 200
    assert client.post("/hook", content=BODY, headers=github_headers()).status == 401


def test_github_replay_of_the_same_delivery_is_refused():
    headers = github_headers()
    client = TestClient(make_app(scheme="github"))
    assert client.post("/hook", content=BODY, headers=headers).status == 200
    assert client.post("/hook", content=BODY, headers=headers).status == 401


def test_standard_webhooks_scheme_verifies():
    mac = hmac.new(SECRET.encode(), f"msg_1.{NOW}.".encode() + BODY, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    response = TestClient(make_app(scheme="standard")).post("/hook", content=BODY, headers=headers)
    assert response.status == 200


def test_replay_keys_go_to_the_configured_store_for_both_tolerance_directions():
    store = RecordingStore()
    mac = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    TestClient(make_app(store=store, tolerance=120)).post(
        "/hook",
        content=BODY,
        headers={"content-type": "application/json", "x-signature": f"t={NOW},v1={mac}"},
    )
    assert len(store.calls) == 1
    key, ttl = store.calls[0]
    assert key.startswith("webhook:t:") and ttl == 242


def test_oversized_body_is_refused_before_verification():
    app = make_app()
    response = TestClient(app).post("/hook", content=b"x" * (app.max_body + 1))
    assert response.status == 413


@pytest.mark.parametrize(
    "config",
    [
        {"secrets": KeyRing(["short"])},
        {"scheme": "md5"},
        {"tolerance": 0},
        {"tolerance": 300, "replay_ttl": 100},
        # NaN passed every comparison that should have refused it.
        {"replay_ttl": float("nan")},
        {"min_secret_bytes": float("nan")},
    ],
)
def test_invalid_configuration_refuses_to_build(config):
    with pytest.raises(ConfigError):
        WebhookConfig(**{"secrets": KeyRing([SECRET]), **config})


@pytest.mark.parametrize(
    ("secret", "minimum"),
    [
        # 18 characters, so it passed the 16-byte minimum, for a key of 9 bytes.
        ("whsec_" + base64.b64encode(b"x" * 9).decode(), 16),
        # The prefix alone: the key is empty.
        ("whsec_", 1),
    ],
    ids=["nine-byte-key", "empty-key"],
)
def test_standard_whsec_secret_is_measured_as_the_key_it_decodes_to(secret, minimum):
    with pytest.raises(ConfigError):
        WebhookConfig(secrets=KeyRing([secret]), scheme="standard", min_secret_bytes=minimum)


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_" + base64.b64encode(b"x" * 24).decode()[:-1],  # a character lost in a copy
        "whsec_" + "not base64 at all, though long enough",
    ],
    ids=["truncated", "not-base64"],
)
def test_standard_whsec_secret_that_is_no_base64_refuses_to_build(secret):
    # Its text was the key: every delivery, signed with the decoded key, was refused.
    with pytest.raises(ConfigError, match="followed by base64"):
        WebhookConfig(secrets=KeyRing([secret]), scheme="standard")


def test_standard_whsec_secret_of_the_minimum_decoded_length_builds():
    secret = "whsec_" + base64.b64encode(b"x" * 16).decode()
    WebhookConfig(secrets=KeyRing([secret]), scheme="standard", min_secret_bytes=16)


def failing_app(failure: str) -> tuple[App, list[int]]:
    """A webhook route whose handler fails the first time in the way named."""
    from daloy_edge import BadRequest, Response

    app, calls = App(request_timeout=0.2), []

    @app.post(
        "/hook",
        middleware=[VerifyWebhook(WebhookConfig(secrets=KeyRing([SECRET]), clock=lambda: NOW))],
    )
    async def hook(request):
        calls.append(1)
        if len(calls) == 1:
            if failure == "raise":
                raise RuntimeError("database down")
            if failure == "503":
                return Response.json({"retry": True}, status=503)
            if failure == "400":
                raise BadRequest("unknown event type")
            if failure == "deadline":
                await asyncio.sleep(5)
        return {"received": True}

    return app, calls


def signed_headers() -> dict[str, str]:
    mac = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-signature": f"t={NOW},v1={mac}"}


@pytest.mark.parametrize(("failure", "status"), [("raise", 500), ("503", 503), ("deadline", 504)])
def test_senders_retry_of_a_delivery_whose_handling_failed_is_handled_not_refused_as_replay(
    failure, status
):
    app, calls = failing_app(failure)
    client = TestClient(app)
    assert client.post("/hook", content=BODY, headers=signed_headers()).status_code == status
    assert client.post("/hook", content=BODY, headers=signed_headers()).status_code == 200
    assert len(calls) == 2
    assert client.post("/hook", content=BODY, headers=signed_headers()).status_code == 401


def streamed_hook_app(fails_at: str) -> tuple[App, list[int]]:
    """A webhook route answering with a streamed body that fails the first time, on its
    first chunk or after one chunk was made."""
    from daloy_edge import Response

    app, calls = App(request_log=False), []

    @app.post(
        "/hook",
        middleware=[VerifyWebhook(WebhookConfig(secrets=KeyRing([SECRET]), clock=lambda: NOW))],
    )
    async def hook(request):
        calls.append(1)

        async def chunks() -> AsyncIterator[bytes]:
            if len(calls) == 1 and fails_at == "first":
                raise RuntimeError("export failed")
            yield b"["
            if len(calls) == 1:
                raise RuntimeError("export failed")
            yield b"]"

        return Response(stream=chunks(), media_type="application/json")

    return app, calls


@pytest.mark.parametrize("fails_at", ["first", "middle"])
def test_senders_retry_of_a_delivery_whose_streamed_body_failed_is_handled_not_refused_as_replay(
    fails_at,
):
    # Lambda reads a streamed body whole: the failing stream was a 500, and the sender's
    # retry was refused as a replay (401), the event lost.
    from daloy_edge_aws_lambda import handler

    from tests.conformance.harness.gateways import build_event

    app, calls = streamed_hook_app(fails_at)
    lambda_handler = handler(app)
    headers = [("host", "example.test"), *signed_headers().items()]

    def deliver() -> object:
        return lambda_handler(build_event("http-v2", "POST", "/hook", headers, BODY), None)

    assert deliver()["statusCode"] == 500
    retried = deliver()
    assert (retried["statusCode"], retried["body"]) == (200, "[]")
    assert len(calls) == 2
    assert deliver()["statusCode"] == 401


def test_delivery_refused_by_its_handler_with_a_4xx_stays_recorded():
    app, calls = failing_app("400")
    client = TestClient(app)
    assert client.post("/hook", content=BODY, headers=signed_headers()).status_code == 400
    assert client.post("/hook", content=BODY, headers=signed_headers()).status_code == 401
    assert len(calls) == 1


class AnswerLostStore(MemoryNonceStore):
    """Records the first delivery, then fails as a store does whose answer never came back:
    with an error (a reset, its timeout) or by outlasting the request's deadline."""

    def __init__(self, failure: str) -> None:
        super().__init__()
        self.failure = failure
        self.failed = False

    async def add_if_absent(self, key: str, ttl_s: float) -> bool:
        fresh = await super().add_if_absent(key, ttl_s)
        if not self.failed:
            self.failed = True
            if self.failure == "deadline":
                await asyncio.sleep(5)
            raise StoreUnavailable("no answer within 1.0s")
        return fresh


@pytest.mark.parametrize(("failure", "status"), [("error", 503), ("deadline", 504)])
def test_senders_retry_after_the_replay_store_lost_its_answer_is_handled_not_refused_as_replay(
    failure, status
):
    store = AnswerLostStore(failure)
    app, calls = App(request_timeout=0.2), []

    @app.post(
        "/hook",
        middleware=[
            VerifyWebhook(WebhookConfig(secrets=KeyRing([SECRET]), clock=lambda: NOW, store=store))
        ],
    )
    async def hook(request):
        calls.append(1)
        return {"received": True}

    client = TestClient(app)
    assert client.post("/hook", content=BODY, headers=signed_headers()).status_code == status
    assert client.post("/hook", content=BODY, headers=signed_headers()).status_code == 200
    assert len(calls) == 1
    assert client.post("/hook", content=BODY, headers=signed_headers()).status_code == 401


@contextlib.asynccontextmanager
async def silent_upstash() -> AsyncIterator[tuple[str, list[bytes]]]:
    """An Upstash REST endpoint on 127.0.0.1 that reads each command and never answers;
    yields its URL and the request heads it read."""
    stop, heads = asyncio.Event(), list[bytes]()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            await stop.wait()
        except asyncio.IncompleteReadError:
            pass  # the client gave up first
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", heads
    finally:
        stop.set()
        server.close()
        await server.wait_closed()


async def test_forgetting_a_delivery_past_the_deadline_does_not_wait_out_the_store_timeout():
    # The failure: the replay store outlasted the deadline, and forgetting the delivery then
    # waited out the store's own timeout (1 s by default; 30 s here), holding the 504 that
    # long past the deadline: on Lambda, past the margin left for answering and logging.
    from daloy_edge.ratelimit.upstash import UpstashNonceStore, UpstashREST

    async with silent_upstash() as (url, heads):
        store = UpstashNonceStore(
            UpstashREST(url, "token", timeout=30), timeout=30, first_timeout=30
        )
        config = WebhookConfig(secrets=KeyRing([SECRET]), clock=lambda: NOW, store=store)
        app = App(request_timeout=0.5)

        @app.post("/hook", middleware=[VerifyWebhook(config)])
        async def hook(request):
            return {"received": True}

        async with TestClient(app) as client:
            sent = client.arequest("POST", "/hook", content=BODY, headers=signed_headers())
            response = await asyncio.wait_for(sent, 10)
        assert response.status_code == 504
        assert heads[0].startswith(b"POST ")  # the SET reached the store, which never answered


class RedisURLStore:
    """An app's own replay store whose errors carry its connection URL, password and all."""

    async def add_if_absent(self, key: str, ttl_s: float) -> bool:
        raise ConnectionError("Error connecting to redis://:hunter2@db.internal:6379")

    async def discard(self, key: str) -> None:
        raise ConnectionError("Error connecting to redis://:hunter2@db.internal:6379")


def test_a_replay_store_outage_warning_names_an_app_stores_error_by_its_type_only(caplog):
    with caplog.at_level(logging.WARNING, logger="daloy_edge.webhooks"):
        answer = TestClient(make_app(store=RedisURLStore())).post(
            "/hook", content=BODY, headers=signed_headers()
        )
    assert answer.status_code == 503
    assert "hunter2" not in caplog.text
    assert "webhook replay store unavailable (ConnectionError)" in caplog.text
