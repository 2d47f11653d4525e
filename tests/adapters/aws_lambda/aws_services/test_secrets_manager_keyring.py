"""Key rings from Secrets Manager (a real moto server): parsing, caching, refresh, outages."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from daloy_edge_aws_lambda.secrets_manager import (
    KeyRingUnavailable,
    SecretsManagerKeyRing,
    parse_key_material,
)

from daloy_edge import ConfigError, KeyRing, _copies
from tests.support.calls import calls_made

pytestmark = pytest.mark.slow

KEY_A = "a" * 32
KEY_B = "b" * 32
KEY_C = "c" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def revealed(ring: KeyRing) -> list[bytes]:
    return [key.reveal() for key in ring]


def count_calls(client) -> list[str]:
    stages: list[str] = []
    client.meta.events.register(
        "before-parameter-build.secrets-manager.GetSecretValue",
        lambda params, **kw: stages.append(params.get("VersionStage", "")),
    )
    return stages


def make_secret(moto, name: str, value: str) -> object:
    client = moto.client("secretsmanager")
    client.create_secret(Name=name, SecretString=value)
    return client


class HeldSecretsManager:
    """A Secrets Manager on 127.0.0.1 that answers its first GetSecretValue and holds every
    later one until :attr:`release` is set (at most ``hold`` seconds), as a service that
    accepts and is slow to answer does."""

    def __init__(self, secret: str, hold: float = 10.0) -> None:
        self.release = threading.Event()
        self.held = 0
        self.answered = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                if server.answered:
                    server.held += 1
                    server.release.wait(hold)
                body = json.dumps(
                    {"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:k", "Name": "k"}
                    | {"VersionId": "v1", "SecretString": secret, "CreatedDate": 1}
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/x-amz-json-1.1")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                server.answered += 1

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "secretsmanager",
            region_name="us-east-1",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}, read_timeout=60),
        )


@pytest.fixture
def held_secrets_manager() -> Iterator[HeldSecretsManager]:
    server = HeldSecretsManager(KEY_A)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join()


def expired_ring(server: HeldSecretsManager) -> SecretsManagerKeyRing:
    """A ring loaded once from ``server``, now past its ttl."""
    clock = Clock()
    source = SecretsManagerKeyRing(
        "k", client=server.client(), ttl=60, clock=clock, include_previous=False
    )
    source.get()
    clock.now += 61
    return source


def test_json_list_loads_with_first_key_signing(moto):
    client = make_secret(moto, "keys/list", json.dumps([KEY_A, KEY_B]))
    ring = SecretsManagerKeyRing("keys/list", client=client).get()
    assert revealed(ring) == [KEY_A.encode(), KEY_B.encode()]
    assert ring.primary.equals(KEY_A)


def test_a_large_ring_and_its_previous_version_are_merged_in_time_linear_in_their_keys(moto):
    # Each AWSPREVIOUS key was compared with every AWSCURRENT key: two rings of a
    # thousand keys took a million constant-time comparisons at each refresh.
    client = make_secret(moto, "keys/warm", KEY_A)
    SecretsManagerKeyRing("keys/warm", client=client).get()
    per_key = []
    for count in (100, 400):
        old = [f"{n:04d}".ljust(32, "k") for n in range(count)]
        name = f"keys/large-{count}"
        make_secret(moto, name, json.dumps(old))
        client.put_secret_value(SecretId=name, SecretString=json.dumps([KEY_A, *old]))
        source = SecretsManagerKeyRing(name, client=client)
        cost = calls_made(source.get)
        assert revealed(source.get()) == [KEY_A.encode(), *(k.encode() for k in old)]
        per_key.append(cost / count)
    assert per_key[1] < per_key[0] * 1.25


def test_binary_secret_is_one_key(moto):
    client = moto.client("secretsmanager")
    client.create_secret(Name="keys/binary", SecretBinary=b"\x01" * 32)
    source = SecretsManagerKeyRing("keys/binary", client=client)
    assert revealed(source.get()) == [b"\x01" * 32]


def test_ring_is_cached_until_ttl(moto):
    client = make_secret(moto, "keys/cache", KEY_A)
    calls = count_calls(client)
    clock = Clock()
    source = SecretsManagerKeyRing("keys/cache", client=client, ttl=60, clock=clock)
    source.get()
    clock.now += 59
    source.get()
    assert calls == ["AWSCURRENT", "AWSPREVIOUS"]


def test_rotation_is_picked_up_after_ttl_with_previous_key_verifying(moto):
    client = make_secret(moto, "keys/rotate", KEY_A)
    clock = Clock()
    source = SecretsManagerKeyRing("keys/rotate", client=client, ttl=60, clock=clock)
    assert revealed(source.get()) == [KEY_A.encode()]
    client.put_secret_value(SecretId="keys/rotate", SecretString=KEY_B)
    assert revealed(source.get()) == [KEY_A.encode()]
    clock.now += 61
    assert revealed(source.get()) == [KEY_B.encode(), KEY_A.encode()]


def test_a_restored_copy_loads_the_ring_its_snapshot_held_again(moto, monkeypatch):
    # The failure: a ring loaded at init went into a SnapStart snapshot, and an environment
    # restored from it long after a rotation (its monotonic clock not having counted the
    # time) signed with the old key for a whole ttl more.
    client = make_secret(moto, "keys/snapshot", KEY_A)
    clock = Clock()
    source = SecretsManagerKeyRing("keys/snapshot", client=client, ttl=60, clock=clock)
    assert revealed(source.get()) == [KEY_A.encode()]
    client.put_secret_value(SecretId="keys/snapshot", SecretString=KEY_B)
    monkeypatch.setattr(_copies, "generation", _copies.generation + 1)  # restored
    assert revealed(source.get()) == [KEY_B.encode(), KEY_A.encode()]


def test_a_forked_copy_fetches_on_a_client_of_its_own(moto, aws_env, monkeypatch):
    # The failure: the boto3 client the ring built in the parent came along into a forked
    # worker with its pooled connection; both processes writing requests on it, each
    # could read the other's answer.
    from daloy_edge_aws_lambda import secrets_manager

    make_secret(moto, "keys/forked", KEY_A)
    source = SecretsManagerKeyRing(
        "keys/forked", region="us-east-1", endpoint_url=moto.endpoint, ttl=60
    )
    assert revealed(source.get()) == [KEY_A.encode()]
    parents = source._client
    monkeypatch.setattr(secrets_manager.os, "getpid", lambda: -1)  # the child's pid
    monkeypatch.setattr(_copies, "generation", _copies.generation + 1)  # forked
    monkeypatch.setattr(_copies, "_kept", [])
    assert revealed(source.get()) == [KEY_A.encode()]
    assert source._client is not None and source._client is not parents
    assert _copies._kept == [parents]  # never collected in the child


def test_a_forked_copy_whose_first_call_is_refresh_fetches_on_its_own_client_and_lock(
    moto, aws_env, monkeypatch
):
    # The failure: only get() and aget() looked for a copy. A worker whose first call was
    # refresh() (after a rotation) fetched on the parent's client and its pooled
    # connection, and waited for good on a lock a parent thread held at the fork.
    from daloy_edge_aws_lambda import secrets_manager

    make_secret(moto, "keys/forked-refresh", KEY_A)
    source = SecretsManagerKeyRing(
        "keys/forked-refresh", region="us-east-1", endpoint_url=moto.endpoint, ttl=60
    )
    assert revealed(source.get()) == [KEY_A.encode()]
    parents = source._client
    source._lock.acquire()  # a parent thread fetching at the fork
    monkeypatch.setattr(secrets_manager.os, "getpid", lambda: -1)  # the child's pid
    monkeypatch.setattr(_copies, "generation", _copies.generation + 1)  # forked
    monkeypatch.setattr(_copies, "_kept", [])
    rings: list[KeyRing] = []
    worker = threading.Thread(target=lambda: rings.append(source.refresh()), daemon=True)
    worker.start()
    worker.join(10)
    assert [revealed(ring) for ring in rings] == [[KEY_A.encode()]]
    assert source._client is not None and source._client is not parents


def test_ring_in_another_region_loads_where_its_arn_points(moto, aws_env):
    abroad = moto.client("secretsmanager", region="eu-west-1")
    arn = abroad.create_secret(Name="abroad-ring", SecretString=KEY_A)["ARN"]
    source = SecretsManagerKeyRing(arn, region="us-east-1", endpoint_url=moto.endpoint)
    assert revealed(source.get()) == [KEY_A.encode()]


def test_previous_version_can_be_left_out(moto):
    client = make_secret(moto, "keys/noprev", KEY_A)
    client.put_secret_value(SecretId="keys/noprev", SecretString=KEY_B)
    source = SecretsManagerKeyRing("keys/noprev", client=client, include_previous=False)
    assert revealed(source.get()) == [KEY_B.encode()]


def test_short_key_refuses_to_load(moto):
    client = make_secret(moto, "keys/short", "too-short")
    with pytest.raises(KeyRingUnavailable, match="at least 32 bytes"):
        SecretsManagerKeyRing("keys/short", client=client).get()


@pytest.mark.parametrize(
    ("name", "previous", "kept"),
    [
        ("keys/placeholder", "changeme", []),
        ("keys/other-shape", '{"username": "admin"}', []),
        ("keys/before-min-raised", json.dumps([KEY_B, "b" * 16]), [KEY_B.encode()]),
    ],
)
def test_a_previous_version_without_usable_keys_does_not_refuse_a_valid_current_one(
    moto, capsys, name, previous, kept
):
    # AWSPREVIOUS is whatever the secret held before: a placeholder it was created with,
    # or a key from before min_bytes was raised. It failed the whole fetch, so a valid
    # AWSCURRENT answered 503 to every request until the next rotation.
    client = make_secret(moto, name, previous)
    client.put_secret_value(SecretId=name, SecretString=KEY_A)
    ring = SecretsManagerKeyRing(name, client=client).get()
    assert revealed(ring) == [KEY_A.encode(), *kept]
    assert "AWSPREVIOUS" in capsys.readouterr().err


def test_missing_secret_raises(moto):
    source = SecretsManagerKeyRing("keys/absent", client=moto.client("secretsmanager"))
    with pytest.raises(KeyRingUnavailable, match="ResourceNotFound"):
        source.get()


def test_forced_refresh_is_rate_limited(moto):
    client = make_secret(moto, "keys/flood", KEY_A)
    calls = count_calls(client)
    clock = Clock()
    source = SecretsManagerKeyRing(
        "keys/flood", client=client, clock=clock, min_refresh_interval=5, include_previous=False
    )
    source.get()
    for _ in range(50):
        source.refresh()  # e.g. one per bad signature: must not reach the API each time
    clock.now += 6
    source.refresh()
    assert calls == ["AWSCURRENT", "AWSCURRENT"]


async def test_async_get_loads_without_blocking_the_loop(moto):
    client = make_secret(moto, "keys/async", json.dumps({"keys": [KEY_C]}))
    ring = await SecretsManagerKeyRing("keys/async", client=client).aget()
    assert revealed(ring) == [KEY_C.encode()]


async def test_a_refresh_in_flight_does_not_stop_the_event_loop(held_secrets_manager):
    # The failure: aget() took the ring's lock on the event loop, and a worker thread
    # refreshing holds it for the whole call to Secrets Manager, so every request on the
    # loop, /health too, stood still until Secrets Manager answered or timed out.
    server = held_secrets_manager
    source = expired_ring(server)
    refreshing = asyncio.create_task(source.aget())
    while not server.held:
        await asyncio.sleep(0.01)
    ring = await source.aget()
    assert server.answered == 1  # served while the refresh was still held
    assert revealed(ring) == [KEY_A.encode()]
    server.release.set()
    assert revealed(await refreshing) == [KEY_A.encode()]
    assert source.fetches == 2


def test_a_thread_gets_the_cached_ring_while_another_refreshes(held_secrets_manager):
    # functions-framework's worker threads: each waited for the one refreshing, on a
    # deadline that cannot interrupt a thread, for a ring no different from the cached one.
    server = held_secrets_manager
    source = expired_ring(server)
    refreshing = threading.Thread(target=source.get)
    refreshing.start()
    while not server.held:
        server.release.wait(0.01)
    assert revealed(source.get()) == [KEY_A.encode()]
    assert server.answered == 1
    server.release.set()
    refreshing.join()
    assert server.answered == 2


class StaticSecrets:
    """A Secrets Manager stand-in answering ``key`` as the current version."""

    def __init__(self, key: str) -> None:
        self.key = key

    def get_secret_value(self, **call: str) -> dict[str, str]:
        return {"SecretString": self.key}


@pytest.mark.parametrize("option", ["ttl", "max_stale", "min_refresh_interval"])
def test_a_wait_of_nan_refuses_to_build(option):
    # NaN compared false with everything: a min_refresh_interval of NaN let each forged
    # value fetch the secret again, the flood the interval is there to stop.
    with pytest.raises(ConfigError, match=option):
        SecretsManagerKeyRing("k", client=StaticSecrets(KEY_A), **{option: float("nan")})


@pytest.mark.parametrize("minimum", [float("nan"), -1])
def test_a_minimum_key_length_that_is_no_byte_count_refuses_to_build(minimum):
    # A NaN passed every key of any length; checked only at a fetch, it would refuse
    # every request with the secret fine.
    with pytest.raises(ConfigError, match="min_bytes"):
        SecretsManagerKeyRing("k", client=StaticSecrets(KEY_A), min_bytes=minimum)


def test_a_ring_past_max_stale_is_not_served_as_the_refresh_lands(monkeypatch):
    # The failure: a thread finding the lock held read the cached ring before its load
    # time. A refresh storing the new ring and then its time between the two reads paired
    # the old ring, past ttl + max_stale and refused until then, with the new time.
    clock = Clock()
    source = SecretsManagerKeyRing(
        "k", client=StaticSecrets(KEY_A), ttl=60, max_stale=600, clock=clock
    )
    source.get()
    source._client = StaticSecrets(KEY_B)
    clock.now += 700  # the cached ring is past ttl + max_stale
    lock = source._lock
    lock.acquire()  # another thread is refreshing

    def refresh_lands() -> float:
        # What the refreshing thread does meanwhile: store the ring, then its time, and
        # let go of the lock.
        source._ring, source._loaded_at = KeyRing([KEY_B]), 1700.0
        lock.release()
        monkeypatch.setattr(source, "_clock", clock)
        return clock.now

    monkeypatch.setattr(source, "_clock", refresh_lands)
    assert revealed(source.get()) == [KEY_B.encode()]


def test_cached_ring_serves_through_an_outage_then_expires(own_moto):
    client = make_secret(own_moto, "keys/outage", KEY_A)
    clock = Clock()
    source = SecretsManagerKeyRing("keys/outage", client=client, ttl=60, max_stale=600, clock=clock)
    source.get()
    own_moto.stop()
    clock.now += 120
    assert revealed(source.get()) == [KEY_A.encode()]
    clock.now += 600
    with pytest.raises(KeyRingUnavailable, match="connect"):
        source.get()


def test_cached_ring_serves_through_an_outage_when_stderr_cannot_be_written(
    own_moto, monkeypatch, capsys
):
    # The "serving the cached ring" warning raised BrokenPipeError out of get() when the
    # reader of stderr was gone (every request a 500 instead of the cached ring), and
    # went to stdout, among the JSON log lines, without a stderr (``2>&-``).
    client = make_secret(own_moto, "keys/no-stderr", KEY_A)
    clock = Clock()
    source = SecretsManagerKeyRing(
        "keys/no-stderr", client=client, ttl=60, max_stale=600, min_refresh_interval=0, clock=clock
    )
    source.get()
    own_moto.stop()
    read_end, write_end = os.pipe()
    os.close(read_end)
    with io.TextIOWrapper(open(write_end, "wb", buffering=0), write_through=True) as gone:
        monkeypatch.setattr(sys, "stderr", gone)
        clock.now += 120
        assert revealed(source.get()) == [KEY_A.encode()]
    monkeypatch.setattr(sys, "stderr", None)
    clock.now += 120
    assert revealed(source.get()) == [KEY_A.encode()]
    assert capsys.readouterr().out == ""


def test_an_outage_is_reported_naming_the_secret_and_its_end_too(own_moto, capsys):
    # "key ring refresh failed (EndpointConnectionError); serving the cached ring": with a
    # ring for the session keys and one for the webhook secrets, which had failed, and
    # until when would it serve? Nothing said when Secrets Manager answered again.
    client = make_secret(own_moto, "keys/told", KEY_A)
    clock = Clock()
    source = SecretsManagerKeyRing("keys/told", client=client, ttl=60, max_stale=600, clock=clock)
    source.get()
    own_moto.stop()
    clock.now += 120
    assert revealed(source.get()) == [KEY_A.encode()]
    own_moto.start()  # a new, empty server
    make_secret(own_moto, "keys/told", KEY_A)
    clock.now += 31
    assert revealed(source.get()) == [KEY_A.encode()]
    assert capsys.readouterr().err.splitlines() == [
        "daloy_edge_aws_lambda: key ring keys/told: refresh failed (EndpointConnectionError);"
        " serving the cached ring for up to 540 s more",
        "daloy_edge_aws_lambda: key ring keys/told loaded again, 31 s after its first failed fetch",
    ]


def test_a_failed_refresh_is_not_tried_again_on_every_request(own_moto):
    # Each attempt against a Secrets Manager that does not answer waits for the client's
    # timeouts (15 s): retried on every request past ttl, every request waited that long.
    client = make_secret(own_moto, "keys/backoff", KEY_A)
    clock = Clock()
    source = SecretsManagerKeyRing(
        "keys/backoff", client=client, ttl=60, clock=clock, include_previous=False
    )
    source.get()
    own_moto.stop()
    clock.now += 61
    source.get()
    attempts = source.fetches
    for _ in range(5):
        clock.now += 5
        assert revealed(source.get()) == [KEY_A.encode()]
    assert source.fetches == attempts
    clock.now += 10
    source.get()
    assert source.fetches == attempts + 1


def test_requests_without_a_ring_do_not_each_call_secrets_manager(moto):
    # The flood: with no ring loaded (a missing secret, the service down since the cold
    # start), every request fetched again. Each one cost a billed GetSecretValue, and
    # against a service that does not answer, waited for its timeouts.
    client = moto.client("secretsmanager")
    calls = count_calls(client)
    clock = Clock()
    source = SecretsManagerKeyRing(
        "keys/not-yet", client=client, clock=clock, min_refresh_interval=5
    )
    for _ in range(20):
        with pytest.raises(KeyRingUnavailable, match="ResourceNotFound"):
            source.get()
        with pytest.raises(KeyRingUnavailable, match="ResourceNotFound"):
            source.refresh()
    assert calls == ["AWSCURRENT"]
    client.create_secret(Name="keys/not-yet", SecretString=KEY_A)
    clock.now += 5
    assert revealed(source.get()) == [KEY_A.encode()]
    assert len(calls) == 3  # AWSCURRENT, then AWSPREVIOUS (not found: no previous version)


def _expired_through_an_outage(own_moto, name: str) -> SecretsManagerKeyRing:
    """A ring fetched once, then Secrets Manager down past ttl + max_stale: the cached
    ring serves no more, and the fetch that found so has just failed."""
    client = make_secret(own_moto, name, KEY_A)
    clock = Clock()
    source = SecretsManagerKeyRing(
        name, client=client, ttl=60, max_stale=600, clock=clock, include_previous=False
    )
    source.get()
    own_moto.stop()
    clock.now += 661
    with pytest.raises(KeyRingUnavailable):
        source.get()
    return source


def test_requests_past_max_stale_do_not_each_call_secrets_manager(own_moto):
    source = _expired_through_an_outage(own_moto, "keys/stale")
    attempts = source.fetches
    for _ in range(10):
        with pytest.raises(KeyRingUnavailable, match="connect"):
            source.get()
    assert source.fetches == attempts


def test_a_forced_refresh_past_max_stale_does_not_hand_out_the_expired_ring(own_moto):
    # The failure: get() refused the ring past ttl + max_stale, and a refresh() within
    # min_refresh_interval of that failed fetch returned it all the same, however long
    # ago its keys were rotated.
    source = _expired_through_an_outage(own_moto, "keys/expired")
    attempts = source.fetches
    with pytest.raises(KeyRingUnavailable, match="connect"):
        source.refresh()
    assert source.fetches == attempts


def test_an_empty_current_version_never_lets_the_previous_key_sign(moto):
    # AWSPREVIOUS is verify-only; with nothing in AWSCURRENT it became the signing key.
    client = make_secret(moto, "keys/emptied", KEY_A)
    client.put_secret_value(SecretId="keys/emptied", SecretString="[]")
    with pytest.raises(KeyRingUnavailable, match="holds no key"):
        SecretsManagerKeyRing("keys/emptied", client=client).get()


def test_an_unavailable_ring_answers_a_503_problem(moto):
    from daloy_edge_aws_lambda import protect

    source = SecretsManagerKeyRing("keys/never-made", client=moto.client("secretsmanager"))

    @protect()
    def handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": 200, "body": f"{len(source.get())} keys"}

    event = {
        "version": "2.0",
        "rawPath": "/x",
        "rawQueryString": "",
        "headers": {"host": "a.example"},
        "requestContext": {"http": {"method": "GET", "sourceIp": "203.0.113.7"}},
    }
    result = handler(event, None)
    assert result["statusCode"] == 503
    assert result["headers"]["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("material", "expected"),
    [
        (json.dumps([KEY_A, KEY_B]), [KEY_A, KEY_B]),
        (json.dumps({"keys": [KEY_B]}), [KEY_B]),
        (f"{KEY_A}, {KEY_B}", [KEY_A, KEY_B]),
        (KEY_C, [KEY_C]),
    ],
    ids=["json_list", "json_object", "csv", "single"],
)
def test_key_material_shapes_parse(material, expected):
    assert [k.reveal().decode() for k in parse_key_material(material)] == expected


@pytest.mark.parametrize("material", ["[1, 2]", '{"keys": "x"}', "[not json", '[""]'])
def test_malformed_key_material_is_refused(material):
    with pytest.raises(ConfigError):
        parse_key_material(material)


def test_json_key_escaping_a_lone_surrogate_is_refused_as_config_error():
    with pytest.raises(ConfigError, match="not valid Unicode"):
        parse_key_material('["' + "k" * 32 + '\\ud800"]')
