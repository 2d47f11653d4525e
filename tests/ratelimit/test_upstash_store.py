"""The Upstash store against the shim and a real Redis: round trips, NOSCRIPT, the block
cache, the upstash-redis client, and the transport's security rules."""

from __future__ import annotations

import json
import logging

import pytest
from upstash_redis.asyncio import Redis as UpstashClient

from daloy_edge import ConfigError, Secret
from daloy_edge.ratelimit import (
    FIXED_WINDOW,
    GCRA,
    Quota,
    RateLimiter,
    StoreUnavailable,
    UpstashError,
    UpstashNonceStore,
    UpstashREST,
    UpstashStore,
)
from daloy_edge.transport import HttpxTransport, TransportResponse
from tests.support.redis_server import RedisServer, ShimServer

NOW = 1_700_000_000_000


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def warm(store: UpstashStore) -> None:
    """Load the script into Redis' cache, as the first check of a process does."""
    await store.check(GCRA, GCRA.keys("warm-up", NOW, 1000), NOW, Quota(1, 1000))


async def test_check_is_exactly_one_round_trip(rest: UpstashREST, shim: ShimServer):
    store = UpstashStore(rest, timeout=10)
    await warm(store)
    shim.reset()
    verdict = await store.check(GCRA, GCRA.keys("client", NOW, 60_000), NOW, Quota(5, 60_000))
    assert verdict.allowed
    assert shim.stats() == {"requests": 1, "commands": {"EVALSHA": 1}}


async def test_recovers_from_noscript_after_script_flush_with_one_eval(
    rest: UpstashREST, shim: ShimServer, redis_server: RedisServer
):
    store = UpstashStore(rest, timeout=10)
    await warm(store)
    redis_server.client().script_flush()
    shim.reset()
    keys = FIXED_WINDOW.keys("client", NOW, 60_000)
    first = await store.check(FIXED_WINDOW, keys, NOW, Quota(5, 60_000))
    assert first.allowed and first.remaining == 4
    assert shim.stats() == {"requests": 2, "commands": {"EVALSHA": 1, "EVAL": 1}}
    shim.reset()
    second = await store.check(FIXED_WINDOW, keys, NOW, Quota(5, 60_000))
    assert second.remaining == 3
    assert shim.stats() == {"requests": 1, "commands": {"EVALSHA": 1}}


async def test_blocked_key_costs_no_round_trip_until_it_may_retry(
    rest: UpstashREST, shim: ShimServer
):
    clock = Clock(1_700_000_040.0)  # a minute boundary
    store = UpstashStore(rest, timeout=10)
    await warm(store)
    limiter = RateLimiter(limit=2, window=60, algorithm="fixed_window", store=store, clock=clock)
    assert (await limiter.check("client")).allowed
    assert (await limiter.check("client")).allowed
    shim.reset()
    denied = await limiter.check("client")
    assert not denied.allowed
    assert shim.requests() == 1
    shim.reset()
    clock.now += 59.5
    cached = await limiter.check("client")
    assert not cached.allowed and cached.retry_after_s == 1
    assert shim.requests() == 0
    clock.now += 0.5
    assert (await limiter.check("client")).allowed
    assert shim.requests() == 1


async def test_accepts_the_upstash_redis_client_with_one_round_trip(shim: ShimServer):
    client = UpstashClient(shim.url, shim.token, rest_retries=0, allow_telemetry=False)
    try:
        store = UpstashStore(client, timeout=10)
        await warm(store)
        shim.reset()
        verdict = await store.check(GCRA, GCRA.keys("c", NOW, 60_000), NOW, Quota(5, 60_000))
        assert verdict.allowed and verdict.remaining == 4
        assert shim.stats() == {"requests": 1, "commands": {"EVALSHA": 1}}
    finally:
        await client.close()


async def test_upstash_redis_client_recovers_from_noscript(
    shim: ShimServer, redis_server: RedisServer
):
    client = UpstashClient(shim.url, shim.token, rest_retries=0, allow_telemetry=False)
    try:
        store = UpstashStore(client, timeout=10)
        await warm(store)
        redis_server.client().script_flush()
        shim.reset()
        verdict = await store.check(GCRA, GCRA.keys("c", NOW, 60_000), NOW, Quota(5, 60_000))
        assert verdict.allowed
        assert shim.requests() == 2
    finally:
        await client.close()


async def test_wrong_token_makes_the_store_unavailable(shim: ShimServer):
    transport = HttpxTransport()
    try:
        store = UpstashStore(UpstashREST(shim.url, "not-the-token", transport=transport))
        with pytest.raises(StoreUnavailable, match="Unauthorized"):
            await store.check(GCRA, ("k",), NOW, Quota(5, 60_000))
    finally:
        await transport.aclose()


async def test_rest_reports_redis_error_text(rest: UpstashREST):
    with pytest.raises(UpstashError, match=r"^ERR "):
        await rest.execute(["INCRBY", "k", "not-a-number"])


async def test_rest_returns_plain_results(rest: UpstashREST):
    assert await rest.execute(["SET", "k", "v"]) == "OK"
    assert await rest.execute(["GET", "k"]) == "v"


def test_refuses_to_send_the_token_over_plain_http_to_a_remote_host():
    with pytest.raises(ConfigError, match="https"):
        UpstashREST("http://eu1-example.upstash.io", "token")


def test_refuses_plain_http_to_a_host_named_like_a_loopback_address():
    with pytest.raises(ConfigError, match="https"):
        UpstashREST("http://127.0.0.1%2eattacker.example:8079", "token")


def test_plain_http_to_loopback_is_allowed_for_local_development():
    assert UpstashREST("http://127.0.0.1:8079", "token").url == "http://127.0.0.1:8079/"
    assert UpstashREST("http://[::1]:8079", "token").url == "http://[::1]:8079/"


def test_refuses_credentials_in_the_url():
    with pytest.raises(ConfigError, match="credentials"):
        UpstashREST("https://user:pass@eu1-example.upstash.io", "token")


@pytest.mark.parametrize("option", ["timeout", "max_bytes"])
def test_refuses_a_rest_bound_of_nan(option):
    # NaN compared false with everything: no call or answer would ever pass it.
    with pytest.raises(ConfigError, match="positive"):
        UpstashREST("https://eu1-example.upstash.io", "token", **{option: float("nan")})


@pytest.mark.parametrize("store", [UpstashStore, UpstashNonceStore])
@pytest.mark.parametrize("option", ["timeout", "first_timeout"])
def test_refuses_a_store_timeout_of_nan(store, option):
    rest = UpstashREST("https://eu1-example.upstash.io", "token")
    with pytest.raises(ConfigError, match="positive"):
        store(rest, **{option: float("nan")})


def test_refuses_an_empty_token():
    with pytest.raises(ConfigError, match="empty"):
        UpstashREST("https://eu1-example.upstash.io", "")


@pytest.mark.parametrize(
    "token", ["s3cr3t-from-a-file\n", " s3cr3t", "s3cr3t\r\nx-evil: 1", "s3cr3t\x00", "s3cr3té"]
)
def test_refuses_a_token_no_request_could_carry(token: str):
    # Built, it failed every check: 503 for ever under fail_closed, and no limit at all
    # under fail_open.
    with pytest.raises(ConfigError, match="printable ASCII") as refusal:
        UpstashREST("https://eu1-example.upstash.io", token)
    assert "s3cr3t" not in str(refusal.value)


@pytest.mark.parametrize(
    "url",
    ["https://eu1-example.upstash.io\n", "https://eu1-example.upstash.io/\tv2", "https://eu1 .io"],
)
def test_refuses_a_url_with_a_space_or_line_break(url: str):
    with pytest.raises(ConfigError, match="printable ASCII"):
        UpstashREST(url, "token")


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://127.0.0.1:0"])
def test_refuses_a_url_with_an_invalid_port(url: str):
    with pytest.raises(ConfigError, match="port"):
        UpstashREST(url, "token")


@pytest.mark.parametrize("url", ["https://[::1/", "https://[eu1-example.upstash.io]/"])
def test_refuses_a_url_with_a_malformed_ipv6_host_as_a_configuration_error(url: str):
    # urlsplit raises ValueError for these, which stopped the boot and ``daloy-edge
    # check`` without naming the variable.
    with pytest.raises(ConfigError, match="host"):
        UpstashREST(url, "token")


def test_token_never_appears_in_repr():
    rest = UpstashREST("https://eu1-example.upstash.io", Secret("s3cr3t-token"))
    assert "s3cr3t" not in repr(rest)
    assert "s3cr3t" not in repr(UpstashStore(rest))


def test_token_never_leaves_through_pickle_or_the_objects_state():
    # The client keeps "Bearer <token>" as its authorization header: pickle.dumps of the
    # client or of a store using it, and jsonpickle (which reads __getstate__), wrote it.
    import copy
    import pickle

    rest = UpstashREST("https://eu1-example.upstash.io", Secret("s3cr3t-token"))
    for attempt in (
        lambda: pickle.dumps(rest),
        lambda: pickle.dumps(UpstashStore(rest)),
        lambda: copy.deepcopy(rest),
        rest.__getstate__,
    ):
        with pytest.raises(TypeError, match="not picklable"):
            attempt()


def test_one_transport_serves_event_loops_in_several_threads(shim: ShimServer):
    # Google Cloud Functions runs one event loop per worker thread and the app shares one
    # store: a connection kept alive on one loop, reused from another, raised "bound to a
    # different event loop", and the store failed every other check closed (503).
    import asyncio
    import threading

    transport = HttpxTransport()
    rest = UpstashREST(shim.url, shim.token, transport=transport)
    loops = [asyncio.new_event_loop() for _ in range(2)]
    results: list[object] = []

    def on(loop: asyncio.AbstractEventLoop) -> None:
        try:
            results.append(loop.run_until_complete(rest.execute(["PING"])))
        except Exception as exc:  # recorded, so the assertion shows it
            results.append(exc)

    try:
        for _ in range(3):
            for loop in loops:
                thread = threading.Thread(target=on, args=(loop,))
                thread.start()
                thread.join()
    finally:
        for loop in loops:
            loop.run_until_complete(transport.aclose())
            loop.close()
    assert results == ["PONG"] * 6


class AnswersWith:
    """A store whose script reply is whatever it is told (a broken or tampered Redis)."""

    def __init__(self, reply: list[int]) -> None:
        self.reply = reply

    async def execute(self, command: list[str]) -> object:
        return self.reply


async def test_a_wait_past_the_window_from_the_store_is_cut_to_the_window():
    # One reply of a billion-second wait would have blocked the client on this instance
    # for good: the block cache keeps it without asking the store again.
    answers = AnswersWith([0, 0, 10**12, 10**12])
    store = UpstashStore(answers)
    clock = Clock(1_700_000_040.0)
    limiter = RateLimiter(limit=5, window=60, algorithm="fixed_window", store=store, clock=clock)
    denied = await limiter.check("client")
    assert not denied.allowed and denied.retry_after_s == 60
    answers.reply = [1, 4, 60_000, 0]
    clock.now += 60
    assert (await limiter.check("client")).allowed


class EchoesTheToken:
    """An endpoint that refuses the request and quotes its Authorization header back."""

    async def request(self, method: str, url: str, **options: object) -> TransportResponse:
        headers = options["headers"]
        assert isinstance(headers, dict)
        refusal = {"error": f"invalid credentials: {headers['authorization']}"}
        return TransportResponse(401, {}, json.dumps(refusal).encode())


async def test_an_endpoint_echoing_the_token_does_not_put_it_in_the_log(
    caplog: pytest.LogCaptureFixture,
):
    rest = UpstashREST("https://eu1-example.upstash.io", "s3cr3t-token", transport=EchoesTheToken())
    limiter = RateLimiter(limit=5, window=60, store=UpstashStore(rest), on_store_error="fail_open")
    with caplog.at_level(logging.WARNING, logger="daloy_edge.ratelimit"):
        assert (await limiter.check("client")).degraded
    assert "invalid credentials" in caplog.text
    assert "s3cr3t" not in caplog.text


@pytest.mark.parametrize(("told", "remaining"), [(-4, 0), (10**12, 5)])
async def test_a_remaining_count_outside_the_quota_from_the_store_is_cut_to_it(
    told: int, remaining: int
):
    store = UpstashStore(AnswersWith([1, told, 60_000, 0]))
    limiter = RateLimiter(limit=5, window=60, algorithm="fixed_window", store=store)
    assert (await limiter.check("client")).remaining == remaining


def test_one_http_call_may_take_the_first_checks_five_seconds():
    # The store allows an instance's first check 5 s (DNS and TLS); a 2 s limit on the
    # HTTP call underneath cut that short.
    assert UpstashREST("https://eu1-example.upstash.io", "token").timeout >= 5.0


async def test_aclose_closes_the_http_client_it_made_rather_than_leave_it_open(shim: ShimServer):
    rest = UpstashREST(shim.url, shim.token)
    await rest.execute(["PING"])
    pool = rest._transport._get_client()  # type: ignore[union-attr]
    await rest.aclose()
    assert pool.is_closed


async def test_aclose_leaves_a_transport_it_was_given_to_its_owner(rest: UpstashREST):
    await rest.execute(["PING"])
    pool = rest._transport._get_client()  # type: ignore[union-attr]
    await rest.aclose()
    assert not pool.is_closed
