"""JWKSClient against a real JWKS server on 127.0.0.1: caching, rotation and outages."""

from __future__ import annotations

import asyncio
import logging
import time
from contextvars import ContextVar
from typing import Any

import pytest

from daloy_edge import ConfigError
from daloy_edge.jose import (
    ClaimsPolicy,
    InvalidToken,
    JWKSClient,
    JWTVerifier,
    KeysUnavailable,
    cache_ttl,
)
from daloy_edge.transport import HttpxTransport, TransportResponse, set_default_transport
from tests.jose.jwks_server import FakeClock, JWKSServer
from tests.jwtkit import AUDIENCE, ISSUER, NOW, ec_key, jwks, mint, public_jwk, rsa_key
from tests.support.threads import SlowKey


def key_a() -> dict[str, object]:
    return public_jwk(ec_key(), "key-a")


def key_b() -> dict[str, object]:
    return public_jwk(ec_key("b", "P-256"), "key-b")


@pytest.fixture
async def server():
    srv = await JWKSServer(jwks(key_a())).start()
    yield srv
    await srv.close()


@pytest.fixture
async def transport():
    t = HttpxTransport()
    yield t
    await t.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(server, transport, clock) -> JWKSClient:
    return JWKSClient(server.url, transport=transport, allow_insecure_http=True, clock=clock)


async def test_fetches_the_set_and_finds_a_kid(client, server):
    key = await client.get_key("key-a")
    assert key is not None and key.kid == "key-a"
    assert server.hits == 1


async def test_known_kid_is_served_from_cache(client, server):
    for _ in range(5):
        assert await client.get_key("key-a") is not None
    assert server.hits == 1


async def test_refetches_when_max_age_expires(client, server, clock):
    await client.get_key("key-a")
    clock.advance(299)
    await client.get_key("key-a")
    assert server.hits == 1
    clock.advance(2)
    await client.get_key("key-a")
    assert server.hits == 2


async def test_ttl_follows_cache_control_max_age(client, server, clock):
    server.headers = {"cache-control": "max-age=1000"}
    await client.get_key("key-a")
    clock.advance(900)
    await client.get_key("key-a")
    assert server.hits == 1
    clock.advance(101)
    await client.get_key("key-a")
    assert server.hits == 2


async def test_max_age_zero_is_raised_to_the_minimum_ttl(client, server, clock):
    server.headers = {"cache-control": "max-age=0"}
    await client.get_key("key-a")
    clock.advance(59)
    await client.get_key("key-a")
    assert server.hits == 1


async def test_rotated_in_key_is_fetched_on_first_use(client, server, clock):
    await client.get_key("key-a")
    server.document = jwks(key_a(), key_b())
    clock.advance(31)
    key = await client.get_key("key-b")
    assert key is not None and key.kid == "key-b"
    assert server.hits == 2


async def test_rotated_out_key_is_gone_after_the_next_refresh(client, server, clock):
    await client.get_key("key-a")
    server.document = jwks(key_b())
    clock.advance(301)
    assert await client.get_key("key-a") is None
    assert await client.get_key("key-b") is not None


async def test_a_verified_token_is_refused_once_its_key_is_rotated_out(server, client, clock):
    private = ec_key()
    server.document = jwks(public_jwk(private, "key-a"))
    policy = ClaimsPolicy(issuer=ISSUER, audience=AUDIENCE)
    verifier = JWTVerifier(keys=client, algorithms=["ES256"], policy=policy, clock=lambda: NOW)
    token = mint(private, "ES256", "key-a")
    await verifier.verify(token)
    await verifier.verify(token)
    server.document = jwks(key_b())
    clock.advance(301)
    with pytest.raises(InvalidToken, match="unknown kid"):
        await verifier.verify(token)


async def test_unknown_kid_does_not_refetch_within_the_cooldown(client, server, clock):
    await client.get_key("key-a")
    clock.advance(10)
    assert await client.get_key("nope") is None
    assert server.hits == 1


async def test_random_kids_cause_at_most_one_fetch_per_cooldown(client, server, clock):
    await client.get_key("key-a")
    for i in range(200):
        clock.advance(0.5)
        await client.get_key(f"random-{i}")
    # 100 simulated seconds: one refetch per 30 s cooldown at most.
    assert server.hits <= 1 + 100 // 30 + 1


async def test_negative_cache_remembers_a_kid_still_unknown_after_refetch(client, server, clock):
    await client.get_key("key-a")
    clock.advance(31)
    assert await client.get_key("ghost") is None
    assert server.hits == 2
    clock.advance(31)
    assert await client.get_key("ghost") is None
    assert server.hits == 2


async def test_single_flight_100_concurrent_new_kid_lookups_make_one_fetch(client, server, clock):
    await client.get_key("key-a")
    server.document = jwks(key_a(), key_b())
    server.delay = 0.2
    clock.advance(31)
    results = await asyncio.gather(*(client.get_key("key-b") for _ in range(100)))
    assert all(r is not None and r.kid == "key-b" for r in results)
    assert server.hits == 2


async def test_single_flight_on_a_cold_cache(client, server):
    server.delay = 0.1
    results = await asyncio.gather(*(client.get_key("key-a") for _ in range(100)))
    assert all(r is not None for r in results)
    assert server.hits == 1


REQUEST: ContextVar[str] = ContextVar("request")


class ContextNoting(HttpxTransport):
    """A transport that notes which request's context each fetch runs in."""

    def __init__(self) -> None:
        super().__init__()
        self.contexts: list[str | None] = []

    async def request(self, *args: Any, **kwargs: Any) -> TransportResponse:
        self.contexts.append(REQUEST.get(None))
        return await super().request(*args, **kwargs)


async def test_the_shared_fetch_runs_in_no_requests_context_and_outlives_its_starters_cancel(
    server,
):
    # The fetch concurrent requests share ran in a copy of the context of the request that
    # started it: that request's log record and context variables were held for the whole
    # fetch and, by the fetch's own timeout timer, up to timeout_s after it.
    transport = ContextNoting()
    client = JWKSClient(server.url, transport=transport, allow_insecure_http=True)
    server.delay = 1.0

    async def lookup(name: str) -> object:
        REQUEST.set(name)
        return await client.get_key("key-a")

    first = asyncio.ensure_future(lookup("request-1"))
    while not server.hits:  # the fetch reached the server, which holds it for its delay
        await asyncio.sleep(0.01)
    others = [asyncio.ensure_future(lookup(f"request-{n}")) for n in (2, 3)]
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert all(key is not None for key in await asyncio.gather(*others))
    assert transport.contexts == [None] and server.hits == 1
    await transport.aclose()


async def test_worker_threads_with_their_own_loops_share_one_cold_fetch(server, clock):
    # functions-framework serves each worker thread from an event loop of its own.
    server.delay = 0.3
    client = JWKSClient(server.url, allow_insecure_http=True, clock=clock)

    def lookup() -> object:
        return asyncio.run(client.get_key("key-a"))

    results = await asyncio.gather(*(asyncio.to_thread(lookup) for _ in range(4)))
    assert all(r is not None for r in results)
    assert server.hits == 1


async def spray_from_threads(client: JWKSClient, threads: int) -> list[object]:
    """Unknown kids looked up at once from worker threads, each on a loop of its own (as
    functions-framework serves requests)."""

    def lookup(kid: str) -> object:
        return asyncio.run(client.get_key(kid))

    return await asyncio.gather(*(asyncio.to_thread(lookup, f"spray-{i}") for i in range(threads)))


async def test_worker_threads_spraying_unknown_kids_share_one_refetch(server, clock):
    client = JWKSClient(server.url, allow_insecure_http=True, clock=clock)
    await client.get_key("key-a")
    server.delay = 0.3
    clock.advance(31)

    results = await spray_from_threads(client, 4)
    assert results == [None] * 4
    assert server.hits == 2


class SlowKid(SlowKey):
    """A kid whose hashing yields long enough to let the other threads pick the same
    oldest remembered kid before it is forgotten."""

    __slots__ = ()
    pause = 0.02


async def test_worker_threads_spraying_kids_during_an_outage_are_refused_not_failed(server, clock):
    # Kids a failed refetch left unknown filled the negative cache while the IdP failed;
    # then each thread that joined a refetch forgot the oldest remembered kid to make room
    # for its own: two picked the same one, and the second raised KeyError (a 500). A
    # failed refetch now remembers no kid; each is still refused, none fails.
    client = JWKSClient(server.url, allow_insecure_http=True, clock=clock, max_negative=1)
    await client.get_key("key-a")
    server.status = 503
    clock.advance(31)
    assert await client.get_key(SlowKid("ghost")) is None
    server.delay = 0.3
    clock.advance(31)

    results = await spray_from_threads(client, 4)
    assert results == [None] * 4


async def test_stale_keys_are_served_while_the_idp_fails(client, server, clock):
    await client.get_key("key-a")
    server.status = 503
    clock.advance(301)
    assert await client.get_key("key-a") is not None
    assert server.hits == 2
    assert client.last_error is not None


async def test_failed_refresh_backs_off_before_retrying(client, server, clock):
    await client.get_key("key-a")
    server.status = 500
    clock.advance(301)
    await client.get_key("key-a")
    clock.advance(1)
    await client.get_key("key-a")
    assert server.hits == 2
    clock.advance(5)
    await client.get_key("key-a")
    assert server.hits == 3


async def test_outage_longer_than_the_stale_bound_makes_keys_unavailable(server, transport, clock):
    client = JWKSClient(
        server.url,
        transport=transport,
        allow_insecure_http=True,
        clock=clock,
        stale_if_error_s=600,
    )
    await client.get_key("key-a")
    server.status = 503
    clock.advance(300 + 601)
    with pytest.raises(KeysUnavailable):
        await client.get_key("key-a")


async def test_recovers_when_the_idp_comes_back(client, server, clock):
    await client.get_key("key-a")
    server.status = 503
    clock.advance(301)
    await client.get_key("key-a")
    server.status = 200
    server.document = jwks(key_b())
    clock.advance(6)
    assert await client.get_key("key-b") is not None
    assert client.last_error is None


async def test_cold_start_outage_raises_keys_unavailable(client, server):
    server.status = 502
    with pytest.raises(KeysUnavailable):
        await client.get_key("key-a")


async def test_server_that_is_down_raises_keys_unavailable(server, transport, clock):
    url = server.url
    await server.close()
    client = JWKSClient(url, transport=transport, allow_insecure_http=True, clock=clock)
    with pytest.raises(KeysUnavailable):
        await client.get_key("key-a")


async def test_oversized_response_is_refused(server, transport, clock):
    client = JWKSClient(
        server.url, transport=transport, allow_insecure_http=True, clock=clock, max_bytes=2048
    )
    server.document = jwks(*(public_jwk(rsa_key(), f"k{i}") for i in range(10)))
    with pytest.raises(KeysUnavailable):
        await client.get_key("k1")
    assert "too large" in (client.last_error or "")


async def test_slow_response_is_abandoned_at_the_timeout(server, transport, clock):
    client = JWKSClient(
        server.url, transport=transport, allow_insecure_http=True, clock=clock, timeout_s=0.3
    )
    server.delay = 3
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        await client.get_key("key-a")
    assert time.monotonic() - started < 2


async def test_redirect_is_not_followed(client, server):
    server.status = 302
    server.headers = {"location": "http://127.0.0.1:9/evil.json"}
    with pytest.raises(KeysUnavailable):
        await client.get_key("key-a")
    assert server.hits == 1


async def test_malformed_refresh_keeps_the_previous_keys(client, server, clock):
    await client.get_key("key-a")
    server.body = b'{"keys": [}'
    clock.advance(301)
    assert await client.get_key("key-a") is not None


async def test_set_with_private_key_material_is_refused(client, server):
    leaked = public_jwk(ec_key(), "key-a", d="AAAA")
    server.document = jwks(leaked)
    with pytest.raises(KeysUnavailable):
        await client.get_key("key-a")


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example/jwks.json",
        "http://127.0.0.1.nip.example/jwks",
        "http://10.0.0.1/jwks",
        "http://127.0.0.1%2eattacker.net/jwks.json",
    ],
)
def test_plain_http_off_this_machine_is_refused_keys_could_be_swapped_in_transit(url):
    with pytest.raises(ConfigError):
        JWKSClient(url)


@pytest.mark.parametrize(
    "option",
    [
        "timeout_s",
        "max_bytes",
        "max_keys",
        "max_negative",
        "refetch_cooldown_s",
        "negative_ttl_s",
        "error_backoff_s",
        "stale_if_error_s",
    ],
)
def test_a_bound_of_nan_refuses_to_build(option):
    # NaN compared false with everything: a refetch cooldown of NaN let every token with
    # a made-up kid fetch the keys again, and a NaN size or count bounded nothing.
    with pytest.raises(ConfigError, match=option):
        JWKSClient("https://idp.example/jwks.json", **{option: float("nan")})


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/jwks.json", "http://[::1]:9/jwks", "http://localhost/jwks"]
)
def test_plain_http_to_a_loopback_host_is_accepted(url):
    JWKSClient(url)


@pytest.mark.parametrize(
    "url",
    ["ftp://idp.example/jwks", "https://user:pw@idp.example/jwks", "https:///jwks", "jwks.json"],
)
def test_malformed_or_credentialed_urls_are_refused(url):
    with pytest.raises(ConfigError):
        JWKSClient(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://idp.example/jwks.json\n",
        "https://idp.example/jwks.json\r\n",
        "https://idp.example/jw\tks.json",
        " https://idp.example/jwks.json",
        "https://idp.example/jwks .json",
    ],
)
def test_url_with_whitespace_or_a_line_break_is_refused(url):
    with pytest.raises(ConfigError, match="whitespace"):
        JWKSClient(url)


@pytest.mark.parametrize(
    "url", ["https://idp.example:99999/jwks", "https://idp.example:0/jwks", "http://[::1]:x/jwks"]
)
def test_url_with_a_port_no_connection_can_use_is_refused(url):
    with pytest.raises(ConfigError, match="malformed"):
        JWKSClient(url)


def test_cache_ttl_subtracts_age():
    ttl = cache_ttl(
        {"Cache-Control": "max-age=600", "Age": "100"}, default=1, minimum=1, maximum=10**6
    )
    assert ttl == 500


def test_cache_ttl_no_store_means_the_minimum():
    assert cache_ttl({"cache-control": "no-store"}, default=300, minimum=60, maximum=3600) == 60


def test_cache_ttl_is_capped_at_the_maximum():
    assert (
        cache_ttl({"cache-control": "max-age=999999"}, default=300, minimum=60, maximum=3600)
        == 3600
    )


def test_cache_ttl_ignores_a_malformed_max_age():
    assert cache_ttl({"cache-control": "max-age=-5"}, default=300, minimum=60, maximum=3600) == 300


async def test_aclose_closes_the_http_client_it_made_rather_than_leave_it_open(server):
    client = JWKSClient(server.url, allow_insecure_http=True)
    await client.get_key("key-a")
    pool = client._transport._get_client()  # type: ignore[attr-defined]
    await client.aclose()
    assert pool.is_closed


class Recording:
    """A transport that notes each URL it is asked for, then sends through ``inner``."""

    def __init__(self, inner: HttpxTransport) -> None:
        self.inner, self.urls = inner, []

    async def request(self, method: str, url: str, **options: Any) -> TransportResponse:
        self.urls.append(url)
        return await self.inner.request(method, url, **options)


async def test_a_client_built_before_the_runtime_installs_its_transport_fetches_through_it(
    server, transport
):
    # Built at import (on Workers, into the deploy-time snapshot), before the adapter
    # installed fetch, the client kept httpx, which Workers do not have: every bearer
    # request was a 500.
    client = JWKSClient(server.url, allow_insecure_http=True)
    installed = Recording(transport)
    set_default_transport(installed)
    try:
        assert await client.get_key("key-a") is not None
    finally:
        set_default_transport(None)
    assert installed.urls == [server.url]


async def test_aclose_leaves_a_transport_it_was_given_to_its_owner(server, transport):
    client = JWKSClient(server.url, transport=transport, allow_insecure_http=True)
    await client.get_key("key-a")
    pool = transport._get_client()
    await client.aclose()
    assert not pool.is_closed


@pytest.fixture
def copied(monkeypatch: pytest.MonkeyPatch):
    """Makes this process a copy of itself, as far as objects made before know."""
    from daloy_edge import _copies

    return lambda: monkeypatch.setattr(_copies, "generation", _copies.generation + 1)


async def test_a_restored_copy_fetches_keys_its_snapshot_held_again(client, server, copied):
    # The failure: keys fetched at init went into a SnapStart snapshot, and an environment
    # restored from it days later (its monotonic clock not having counted them) served
    # them until their max-age ran out from the restore on: a withdrawn key still verified.
    await client.get_key("key-a")
    server.document = jwks(key_b())  # withdrawn while the snapshot was stored
    copied()  # the fake clock, like the restored one, has not moved
    assert await client.get_key("key-a") is None
    assert await client.get_key("key-b") is not None
    assert server.hits == 2


async def test_a_forked_copy_does_not_wait_on_a_lock_its_parent_held(client, server, copied):
    # The failure: a thread of the parent held the client's lock at the fork; in the
    # child no thread would ever release it, and every bearer request hung.
    import threading

    held = client._lock
    held.acquire()
    threading.Timer(5, held.release).start()  # lets the test end, should the child wait
    copied()
    start = time.monotonic()
    assert await client.get_key("key-a") is not None
    assert time.monotonic() - start < 2


@pytest.mark.skipif(not hasattr(asyncio, "eager_task_factory"), reason="Python 3.12 and later")
def test_a_fetch_ending_at_once_under_an_eager_task_factory_neither_hangs_nor_stays_in_flight():
    # The failure: an eager task factory (loop.set_task_factory, Python 3.12) ran the
    # fetch inside create_task, under the client's lock. httpx refuses this URL without
    # waiting, so the fetch ended there and took the lock again: the event loop's thread
    # hung for good, and every request it served with it.
    import threading

    clock = FakeClock()
    client = JWKSClient("https://xn--a.invalid/jwks", transport=HttpxTransport(), clock=clock)
    outcomes: list[object] = []

    async def lookups() -> None:
        asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
        for _ in range(2):
            try:
                await client.get_key("key-a")
            except KeysUnavailable as exc:
                outcomes.append(type(exc))
            clock.advance(6)  # past the error back-off: the next look-up fetches again

    thread = threading.Thread(target=asyncio.run, args=(lookups(),), daemon=True)
    thread.start()
    thread.join(30)  # only so that a hung thread fails the test rather than the suite
    assert not thread.is_alive(), "the event loop's thread hung on the client's lock"
    assert outcomes == [KeysUnavailable, KeysUnavailable]
    assert client.fetches == 2  # the first fetch was not left recorded as in flight


class DroppingTransport:
    """A transport of the app's own (the one-method HTTPTransport protocol) whose
    connection failures are the socket's errors, not TransportError."""

    def __init__(self, inner: HttpxTransport) -> None:
        self.inner = inner
        self.dropping = False
        self.calls = 0

    async def request(self, method: str, url: str, **options: Any) -> TransportResponse:
        self.calls += 1
        if self.dropping:
            raise ConnectionResetError(104, "Connection reset by peer")
        return await self.inner.request(method, url, **options)


async def test_a_transport_failing_with_its_own_error_serves_stale_keys_and_backs_off(
    server, transport, clock
):
    """Raised out of the client, a socket error was a 500 for every token, with the
    cached keys unused and a fetch for each request."""
    dropping = DroppingTransport(transport)
    client = JWKSClient(server.url, transport=dropping, allow_insecure_http=True, clock=clock)
    assert await client.get_key("key-a") is not None
    dropping.dropping = True
    clock.advance(301)
    assert await client.get_key("key-a") is not None
    clock.advance(1)
    assert await client.get_key("key-a") is not None
    assert dropping.calls == 2
    assert client.last_error == "ConnectionResetError"


async def test_a_cold_start_transport_failing_with_its_own_error_raises_keys_unavailable(
    server, transport, clock
):
    dropping = DroppingTransport(transport)
    dropping.dropping = True
    client = JWKSClient(server.url, transport=dropping, allow_insecure_http=True, clock=clock)
    for _ in range(3):
        with pytest.raises(KeysUnavailable):
            await client.get_key("key-a")
    assert dropping.calls == 1


async def test_a_kid_first_seen_during_an_outage_verifies_once_the_idp_is_back(
    client, server, clock
):
    # The IdP rotated while its JWKS failed: the refetch the new kid asked for failed, and
    # the kid was remembered as unknown, so once the JWKS answered again its tokens were
    # still refused until the negative cache let go (negative_ttl_s, 5 minutes), not the
    # 30 s cooldown, while the old keys were fresh.
    await client.get_key("key-a")
    server.status = 503
    clock.advance(31)
    assert await client.get_key("key-b") is None
    assert server.hits == 2
    server.status = 200
    server.document = jwks(key_a(), key_b())
    clock.advance(31)
    key = await client.get_key("key-b")
    assert key is not None and key.kid == "key-b"
    assert server.hits == 3


def jwks_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "daloy_edge.jose"]


async def test_an_issuer_outage_hidden_by_stale_keys_is_logged_with_its_end(
    client, server, clock, caplog
):
    # Stale keys kept bearer requests passing, and nothing said the issuer was down: the
    # first sign was every request answering 503 once the keys ran out, hours later.
    caplog.set_level(logging.WARNING, logger="daloy_edge.jose")
    await client.get_key("key-a")
    server.status = 503
    server.body = b'{"error": "upstream s3cr3t"}'
    for _ in range(4):  # a failed fetch each, 6 s apart
        clock.advance(301 if server.hits == 1 else 6)
        assert await client.get_key("key-a") is not None
    assert server.hits == 5
    failed = jwks_warnings(caplog)
    assert len(failed) == 2  # one warning per 10 s, the failures between counted
    assert failed[0] == (
        f"JWKS fetch from {server.url} failed (TransportError: status 503);"
        " serving the cached keys for 21599 s more (1 failed fetches in 0 s)"
    )
    assert failed[1].endswith("serving the cached keys for 21587 s more (3 failed fetches in 12 s)")
    server.status, server.body = 200, None
    clock.advance(6)
    assert await client.get_key("key-a") is not None
    assert jwks_warnings(caplog)[2:] == [
        f"JWKS fetch from {server.url} works again after 4 failed fetches over 24 s"
    ]
    assert "s3cr3t" not in caplog.text


async def test_a_cold_start_without_the_issuer_logs_that_bearer_requests_answer_503(
    client, server, caplog
):
    caplog.set_level(logging.WARNING, logger="daloy_edge.jose")
    server.status = 502
    with pytest.raises(KeysUnavailable):
        await client.get_key("key-a")
    assert jwks_warnings(caplog) == [
        f"JWKS fetch from {server.url} failed (TransportError: status 502);"
        " no keys cached: bearer requests answer 503 (1 failed fetches in 0 s)"
    ]


async def test_requests_during_a_slow_refresh_are_served_the_cached_key_without_waiting(
    client, server, clock
):
    # An issuer slow to answer held every bearer request that arrived during a refetch
    # for as long as the fetch took (up to timeout_s, 5 s): with one that never answers,
    # half of the requests waited that long, though the cached key served them all.
    await client.get_key("key-a")
    clock.advance(301)  # the keys are due for a refresh
    server.delay = 1.0
    began = asyncio.create_task(client.get_key("key-a"))
    while server.hits < 2:  # the refetch reached the issuer, which takes its time
        await asyncio.sleep(0.01)
    key = await client.get_key("key-a")
    assert key is not None and key.kid == "key-a"
    assert not began.done()  # answered while the refetch was still under way
    assert (await began) is not None
    assert server.hits == 2


async def test_a_refresh_left_pending_on_a_parked_loop_is_replaced_not_relied_on(
    client, server, clock
):
    # A request cut off while it waited for its refetch leaves the fetch on a loop that no
    # longer runs (a worker thread's, between its requests): no refresh is under way, so
    # the cached key must not stand in for one, or the keys would never be refreshed.
    await client.get_key("key-a")
    clock.advance(301)
    server.delay = 5.0
    parked = asyncio.new_event_loop()

    async def cut_off() -> None:
        began = asyncio.ensure_future(client.get_key("key-a"))
        while server.hits < 2:
            await asyncio.sleep(0.01)
        assert not began.done()

    try:
        await asyncio.to_thread(parked.run_until_complete, cut_off())
        server.delay = 0.0
        server.document = jwks(key_a(), key_b())
        assert await client.get_key("key-a") is not None
        assert server.hits == 3  # fetched again here, not served from the parked flight
        assert await client.get_key("key-b") is not None
    finally:
        left = asyncio.all_tasks(parked)
        for task in left:
            task.cancel()
        ended = asyncio.gather(*left, return_exceptions=True)
        await asyncio.to_thread(parked.run_until_complete, ended)
        parked.close()


async def test_a_token_in_the_jwks_url_query_is_not_written_to_the_outage_warnings(
    server, transport, clock, caplog
):
    # The warnings named the URL as configured: a JWKS served behind an access key in its
    # query (?key=..., a signed URL's signature) put that key in every outage line.
    caplog.set_level(logging.WARNING, logger="daloy_edge.jose")
    url = server.url + "?key=k3y-s3cr3t&tenant=t1"
    client = JWKSClient(url, transport=transport, allow_insecure_http=True, clock=clock)
    await client.get_key("key-a")
    server.status = 503
    clock.advance(301)
    assert await client.get_key("key-a") is not None
    server.status = 200
    clock.advance(11)
    assert await client.get_key("key-a") is not None
    assert server.hits == 3
    lines = jwks_warnings(caplog)
    assert [line.split(" failed (")[0].split(" works again")[0] for line in lines] == [
        f"JWKS fetch from {server.url}?...",
        f"JWKS fetch from {server.url}?...",
    ]
    assert "k3y-s3cr3t" not in caplog.text
