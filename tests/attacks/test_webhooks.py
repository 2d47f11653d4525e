"""Forged, altered, stale, future, replayed and malformed webhook deliveries."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from daloy_edge import App, KeyRing
from daloy_edge.middleware.webhooks import VerifyWebhook, WebhookConfig
from daloy_edge.nonce_store import MemoryNonceStore
from daloy_edge.observability import LogConfig, MemorySink, RequestLog
from daloy_edge.testing import TestClient

SECRET = "webhook-secret-0123456789abcdef"
BODY = b'{"event":"invoice.paid","amount":100}'


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make_app(clock: Clock, *secrets: str) -> App:
    config = WebhookConfig(secrets=KeyRing(list(secrets or (SECRET,))), clock=clock)
    app = App()
    seen: list[bytes] = []
    app.state_seen = seen  # type: ignore[attr-defined]

    @app.post("/hook", middleware=[VerifyWebhook(config)])
    async def hook(request):
        seen.append(await request.body())
        return {"received": True}

    return app


def signature(t: int, body: bytes, secret: str = SECRET) -> str:
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def deliver(client: TestClient, header: str | None, body: bytes = BODY) -> int:
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["x-signature"] = header
    return client.post("/hook", content=body, headers=headers).status


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_control_authentic_delivery_is_accepted(clock):
    status = deliver(TestClient(make_app(clock)), signature(int(clock.now), BODY))
    assert status == 200


def test_wrong_secret_is_refused(clock):
    forged = signature(int(clock.now), BODY, "guessed-secret-0123456789abcdef")
    assert deliver(TestClient(make_app(clock)), forged) == 401


def test_changed_body_is_refused(clock):
    header = signature(int(clock.now), BODY)
    assert deliver(TestClient(make_app(clock)), header, BODY.replace(b"100", b"900")) == 401


def test_changed_timestamp_is_refused(clock):
    header = signature(int(clock.now), BODY).replace(
        f"t={int(clock.now)}", f"t={int(clock.now) + 1}"
    )
    assert deliver(TestClient(make_app(clock)), header) == 401


def test_stale_timestamp_is_refused(clock):
    status = deliver(TestClient(make_app(clock)), signature(int(clock.now) - 301, BODY))
    assert status == 401


def test_future_timestamp_is_refused(clock):
    status = deliver(TestClient(make_app(clock)), signature(int(clock.now) + 301, BODY))
    assert status == 401


def test_stamp_exactly_the_tolerance_old_is_accepted_all_through_its_second(clock):
    # Stamps are whole seconds: one 300 s old is inside the tolerance until that second
    # ends, as one 300 s ahead is, not only at its first instant.
    clock.now = 1_700_000_000.75
    assert deliver(TestClient(make_app(clock)), signature(1_700_000_000 - 300, BODY)) == 200


def test_replayed_delivery_is_refused(clock):
    client = TestClient(make_app(clock))
    header = signature(int(clock.now), BODY)
    assert deliver(client, header) == 200
    clock.now += 10
    assert deliver(client, header) == 401


def test_replay_when_a_future_stamp_reaches_the_past_edge_is_refused(clock):
    # The stamp is accepted from 300 s before it to 300 s after it, both edges included.
    store = MemoryNonceStore(clock=clock)
    config = WebhookConfig(secrets=KeyRing([SECRET]), clock=clock, store=store)
    app = App()

    @app.post("/hook", middleware=[VerifyWebhook(config)])
    async def hook(request):
        return {"received": True}

    client = TestClient(app)
    header = signature(int(clock.now) + 300, BODY)
    assert deliver(client, header) == 200
    clock.now += 600
    assert deliver(client, header) == 401


def test_replay_signed_with_the_other_rotation_secret_is_refused(clock):
    old = "old-webhook-secret-0123456789abc"
    client = TestClient(make_app(clock, SECRET, old))
    t = int(clock.now)
    status = deliver(client, signature(t, BODY))
    assert status == 200
    status = deliver(client, signature(t, BODY, old))
    assert status == 401


def test_refused_delivery_never_reaches_the_handler(clock):
    app = make_app(clock)
    deliver(TestClient(app), signature(int(clock.now), BODY, "guessed-secret-0123456789abcdef"))
    assert app.state_seen == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "t=,v1=",
        "v1=" + "0" * 64,
        "t=1700000000",
        "t=1700000000,v1=zz",
        "t=1700000000,v1=" + "0" * 63,
        "t=-1,v1=" + "0" * 64,
        "t=1700000000,t=1700000000,v1=" + "0" * 64,
        "t=1e9,v1=" + "0" * 64,
        "garbage",
        "t=1700000000;v1=" + "0" * 64,
        "t=" + "9" * 40 + ",v1=" + "0" * 64,
        "x" * 5000,
    ],
)
def test_malformed_signature_header_is_refused(clock, header):
    assert deliver(TestClient(make_app(clock)), header) == 401


def test_signature_header_past_4_kib_is_refused_though_it_holds_a_valid_signature(clock):
    # The bound on the work one header costs holds whatever it carries: a valid signature
    # padded with items of other names is not read through to its end.
    padded = signature(int(clock.now), BODY) + ",v0=" + "0" * 4096
    assert deliver(TestClient(make_app(clock)), padded) == 401


def test_signature_header_with_an_item_that_is_no_name_value_pair_is_refused(clock):
    header = signature(int(clock.now), BODY) + ",v1"
    assert deliver(TestClient(make_app(clock)), header) == 401


def test_signature_header_naming_its_timestamp_twice_is_refused_though_one_is_signed(clock):
    header = signature(int(clock.now), BODY) + f",t={int(clock.now)}"
    assert deliver(TestClient(make_app(clock)), header) == 401


def test_valid_mac_sent_under_another_version_name_is_refused(clock):
    # Only v1 names HMAC-SHA256 of "<t>.<body>"; a v0 entry is another scheme's.
    header = signature(int(clock.now), BODY).replace(",v1=", ",v0=")
    assert deliver(TestClient(make_app(clock)), header) == 401


def test_valid_signature_after_eight_others_is_not_tried(clock):
    # Eight candidates bound the comparisons one header costs; a ninth is never read.
    t = int(clock.now)
    valid = signature(t, BODY).partition(",")[2]
    eight_wrong = ",".join(["v1=" + "0" * 64] * 8)
    assert deliver(TestClient(make_app(clock)), f"t={t},{eight_wrong},{valid}") == 401
    seven_wrong = eight_wrong.partition(",")[2]
    assert deliver(TestClient(make_app(clock)), f"t={t},{seven_wrong},{valid}") == 200


def test_second_signature_line_is_read_as_part_of_the_field(clock):
    t = int(clock.now)
    lines = [("x-signature", signature(t, BODY)), ("x-signature", f"t={t + 1},v1=" + "0" * 64)]
    response = TestClient(make_app(clock)).post("/hook", content=BODY, headers=lines)
    assert response.status == 401


def test_failure_is_one_opaque_problem(clock):
    client = TestClient(make_app(clock))
    stale = client.post("/hook", content=BODY, headers={"x-signature": signature(1, BODY)})
    forged = client.post("/hook", content=BODY, headers={"x-signature": "garbage"})
    details = {stale.json()["detail"], forged.json()["detail"]}
    assert len(details) == 1
    assert "invalid webhook" in details.pop()


def test_log_tells_a_replay_from_a_forgery_and_never_holds_the_signature(clock):
    sink = MemorySink()
    config = WebhookConfig(secrets=KeyRing([SECRET]), clock=clock)
    app = App(request_log=RequestLog(LogConfig(stdout=False, sinks=[sink])), env={})

    @app.post("/hook", middleware=[VerifyWebhook(config)])
    async def hook(request):
        return {"received": True}

    client = TestClient(app)
    header = signature(int(clock.now), BODY)
    forged = signature(int(clock.now), BODY, "guessed-secret-0123456789abcdef")
    for sent in (header, header, forged):
        deliver(client, sent)
    reasons = [r["Attributes"].get("daloy.webhook.refused") for r in sink.records]
    assert reasons == [None, "replay", "signature"]
    assert header.split("v1=")[1] not in repr(sink.records)


def test_log_tells_a_timestamp_out_of_tolerance_from_a_wrong_signature(clock):
    # A clock gone wrong (the sender's, or this instance's stepped by minutes) refused
    # every delivery as "signature", as a wrong secret is: the log could not tell which
    # to fix. The client's 401 stays the one opaque problem.
    sink = MemorySink()
    config = WebhookConfig(secrets=KeyRing([SECRET]), clock=clock)
    app = App(request_log=RequestLog(LogConfig(stdout=False, sinks=[sink])), env={})

    @app.post("/hook", middleware=[VerifyWebhook(config)])
    async def hook(request):
        return {"received": True}

    client = TestClient(app)
    now = int(clock.now)
    sent = [signature(now - 301, BODY), signature(now + 301, BODY), signature(now, BODY, "x" * 32)]
    headers = [{"content-type": "application/json", "x-signature": header} for header in sent]
    answers = [client.post("/hook", content=BODY, headers=h) for h in headers]
    assert {(a.status, a.json()["type"]) for a in answers} == {
        (401, "urn:daloy-edge:problem:webhook-signature")
    }
    reasons = [r["Attributes"].get("daloy.webhook.refused") for r in sink.records]
    assert reasons == ["timestamp", "timestamp", "signature"]


def test_delivery_is_refused_when_the_replay_store_is_down(clock):
    class DownStore:
        async def add_if_absent(self, key: str, ttl_s: float) -> bool:
            raise ConnectionError("redis unreachable")

    config = WebhookConfig(secrets=KeyRing([SECRET]), clock=clock, store=DownStore())
    app = App()
    seen: list[bytes] = []

    @app.post("/hook", middleware=[VerifyWebhook(config)])
    async def hook(request):
        seen.append(await request.body())
        return {"received": True}

    client = TestClient(app)
    response = client.post(
        "/hook",
        content=BODY,
        headers={
            "content-type": "application/json",
            "x-signature": signature(int(clock.now), BODY),
        },
    )
    assert response.status == 503
    assert response.headers["retry-after"] == "5"
    assert seen == []
