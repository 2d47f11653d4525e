"""The guarded client against real servers: positive controls, pinning, TLS, bounds.

Runs only inside a fresh network namespace; reported through ``test_egress_netns.py``.
"""

from __future__ import annotations

from tests import netns

netns.assert_isolated()

import asyncio  # noqa: E402
import contextlib  # noqa: E402
import gzip  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402

from daloy_edge.egress import (  # noqa: E402
    EgressDenied,
    EgressFailed,
    EgressPolicy,
    EgressTimeout,
    FetchLimits,
    GuardedClient,
    GuardedTransport,
    PolicyOnlyClient,
    SystemResolver,
)
from daloy_edge.transport import HttpxTransport, TransportError  # noqa: E402
from tests.upstream import Reply, Upstream, tls_contexts  # noqa: E402

ALLOWED = "127.0.0.2"
POLICY = EgressPolicy(ports=None, allow_cidrs=(f"{ALLOWED}/32",))


class FixedResolver:
    def __init__(self, table, delay=0.0):
        self.table, self.delay = table, delay

    async def resolve(self, host, port):
        await asyncio.sleep(self.delay)
        return self.table[host]


@pytest.fixture
async def upstream():
    async with Upstream(ALLOWED) as server:
        yield server


async def test_allowed_address_returns_status_headers_and_body(upstream):
    upstream.replies["/data"] = Reply(200, {"x-upstream": "yes"}, b"payload")
    async with GuardedClient(POLICY) as client:
        response = await client.get(upstream.url("/data"))
    assert (response.status, response.headers["x-upstream"], response.body) == (
        200,
        "yes",
        b"payload",
    )
    assert response.url == upstream.url("/data")


async def test_allowed_name_is_sent_as_the_host_header(upstream):
    upstream.replies["/"] = Reply(body=b"ok")
    resolver = FixedResolver({"api.test": [ALLOWED]})
    async with GuardedClient(POLICY, resolver=resolver) as client:
        await client.get(f"http://api.test:{upstream.port}/")
    assert upstream.requests[0].headers["host"] == f"api.test:{upstream.port}"


async def test_system_resolver_reaches_allowed_name_from_the_hosts_file(upstream):
    upstream.replies["/"] = Reply(body=b"ok")
    async with GuardedClient(POLICY, resolver=SystemResolver()) as client:
        response = await client.get(f"http://allowed.test:{upstream.port}/")
    assert response.body == b"ok"


async def test_tls_uses_the_name_for_sni_and_the_certificate_check(tmp_path):
    server_tls, client_tls = tls_contexts("tls.test", str(tmp_path))
    names: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: names.append(name)
    async with Upstream(ALLOWED, tls=server_tls) as server:
        server.replies["/"] = Reply(body=b"secure")
        resolver = FixedResolver({"tls.test": [ALLOWED]})
        async with GuardedClient(POLICY, resolver=resolver, ssl_context=client_tls) as client:
            response = await client.get(f"https://tls.test:{server.port}/")
    assert response.body == b"secure"
    assert names == ["tls.test"]
    assert server.requests[0].headers["host"] == f"tls.test:{server.port}"


async def test_tls_certificate_for_another_name_is_refused(tmp_path):
    server_tls, client_tls = tls_contexts("other.test", str(tmp_path))
    async with Upstream(ALLOWED, tls=server_tls) as server:
        server.replies["/"] = Reply(body=b"secure")
        resolver = FixedResolver({"tls.test": [ALLOWED]})
        async with GuardedClient(POLICY, resolver=resolver, ssl_context=client_tls) as client:
            with pytest.raises(EgressFailed):
                await client.get(f"https://tls.test:{server.port}/")
    assert server.requests == []


async def test_denied_connection_leaves_the_shared_client_usable(upstream):
    upstream.replies["/"] = Reply(body=b"ok")
    resolver = FixedResolver({"bad.test": ["127.0.0.3"], "good.test": [ALLOWED]})
    async with GuardedClient(POLICY, resolver=resolver) as client:
        with pytest.raises(EgressDenied):
            await client.get(f"http://bad.test:{upstream.port}/")
        response = await client.get(f"http://good.test:{upstream.port}/")
    assert response.body == b"ok"


async def test_upstream_error_status_is_returned_not_raised(upstream):
    async with GuardedClient(POLICY) as client:
        response = await client.get(upstream.url("/missing"))
    assert response.status == 404


async def test_identity_encoding_is_requested(upstream):
    upstream.replies["/"] = Reply(body=b"ok")
    async with GuardedClient(POLICY) as client:
        await client.get(upstream.url("/"))
    assert upstream.requests[0].headers["accept-encoding"] == "identity"


async def test_response_at_the_size_bound_is_returned(upstream):
    upstream.replies["/"] = Reply(body=b"x" * 4096, chunked=True)
    async with GuardedClient(POLICY, limits=FetchLimits(max_bytes=4096)) as client:
        assert len((await client.get(upstream.url("/"))).body) == 4096


async def test_declared_oversize_response_fails(upstream):
    upstream.replies["/"] = Reply(body=b"x" * 4097)
    async with GuardedClient(POLICY, limits=FetchLimits(max_bytes=4096)) as client:
        with pytest.raises(EgressFailed, match="size bound"):
            await client.get(upstream.url("/"))


async def test_streamed_oversize_response_fails(upstream):
    upstream.replies["/"] = Reply(body=b"x" * 10_000, chunked=True)
    async with GuardedClient(POLICY, limits=FetchLimits(max_bytes=4096)) as client:
        with pytest.raises(EgressFailed, match="size bound"):
            await client.get(upstream.url("/"))


async def test_gzip_sent_despite_identity_is_inflated_as_by_every_other_transport(upstream):
    gzipped = {"content-encoding": "gzip"}
    upstream.replies["/"] = Reply(headers=gzipped, body=gzip.compress(b"x" * 1000))
    async with GuardedClient(POLICY) as client:
        assert (await client.get(upstream.url("/"))).body == b"x" * 1000


async def test_gzip_bomb_within_the_bound_is_cut_at_the_bound_when_inflated(upstream):
    bomb = gzip.compress(bytes(1024 * 1024))
    upstream.replies["/"] = Reply(headers={"content-encoding": "gzip"}, body=bomb)
    async with GuardedClient(POLICY, limits=FetchLimits(max_bytes=4096)) as client:
        with pytest.raises(EgressFailed, match="too large"):
            await client.get(upstream.url("/"))


class KeepAlive:
    """A raw server that keeps connections open and answers requests, on whatever
    connection they arrive, with ``answers`` in turn (bytes exactly as given)."""

    def __init__(self, answers):
        self.answers, self.connections = list(answers), 0

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, ALLOWED, 0)
        self.url = f"http://{ALLOWED}:{self.server.sockets[0].getsockname()[1]}/"
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def _serve(self, reader, writer):
        self.connections += 1
        try:
            while self.answers:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(self.answers.pop(0))
                await writer.drain()
            await reader.read()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def raw_answer(body, *, length=None):
    length = len(body) if length is None else length
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (length, body)


async def test_bytes_past_the_content_length_never_answer_the_next_request():
    smuggled = raw_answer(b"smuggled")
    answers = [raw_answer(b"first" + smuggled, length=5), raw_answer(b"second")]
    async with KeepAlive(answers) as server, GuardedClient(POLICY) as client:
        assert (await client.get(server.url)).body == b"first"
        assert (await client.get(server.url)).body == b"second"


async def test_an_honest_keep_alive_connection_is_reused():
    async with KeepAlive([raw_answer(b"one"), raw_answer(b"two")]) as server:
        async with GuardedClient(POLICY) as client:
            await client.get(server.url)
            assert (await client.get(server.url)).body == b"two"
        assert server.connections == 1


async def test_head_of_a_representation_past_the_bound_returns_its_headers():
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n"
    limits = FetchLimits(max_bytes=4096)
    async with KeepAlive([answer]) as server, GuardedClient(POLICY, limits=limits) as client:
        response = await client.request("HEAD", server.url)
    assert (response.status, response.headers["content-length"]) == (200, "100000")


async def test_not_modified_naming_a_representation_past_the_bound_is_returned():
    answer = b"HTTP/1.1 304 Not Modified\r\ncontent-length: 100000\r\n\r\n"
    limits = FetchLimits(max_bytes=4096)
    async with KeepAlive([answer]) as server, GuardedClient(POLICY, limits=limits) as client:
        response = await client.get(server.url, headers={"if-none-match": '"v1"'})
    assert (response.status, response.body) == (304, b"")


async def test_slow_first_byte_hits_the_read_timeout(upstream):
    upstream.replies["/"] = Reply(body=b"late", delay=1.0)
    async with GuardedClient(POLICY, limits=FetchLimits(read_timeout=0.2)) as client:
        with pytest.raises(EgressTimeout):
            await client.get(upstream.url("/"))


async def test_drip_fed_body_hits_the_total_timeout(upstream):
    upstream.replies["/"] = Reply(body=b"x" * 8192, drip=0.1)
    limits = FetchLimits(read_timeout=1.0, total_timeout=0.3)
    async with GuardedClient(POLICY, limits=limits) as client:
        with pytest.raises(EgressTimeout, match="total"):
            await client.get(upstream.url("/"))


async def test_httpx_transport_timeout_bounds_a_drip_fed_body(upstream):
    upstream.replies["/"] = Reply(body=b"x" * 8192, drip=0.1)
    transport = HttpxTransport()
    with pytest.raises(TransportError, match="timeout"):
        await transport.request("GET", upstream.url("/"), timeout=0.3)
    await transport.aclose()


async def test_slow_name_resolution_hits_the_connect_timeout(upstream):
    resolver = FixedResolver({"slow.test": [ALLOWED]}, delay=1.0)
    limits = FetchLimits(connect_timeout=0.2)
    async with GuardedClient(POLICY, resolver=resolver, limits=limits) as client:
        with pytest.raises(EgressTimeout):
            await client.get(f"http://slow.test:{upstream.port}/")
    assert upstream.connections == 0


async def test_refused_connection_is_egress_failed(upstream):
    port = upstream.port
    await upstream.stop()
    async with GuardedClient(POLICY) as client:
        with pytest.raises(EgressFailed):
            await client.get(f"http://{ALLOWED}:{port}/")


async def test_unresolvable_name_is_egress_failed():
    async with GuardedClient(POLICY, resolver=SystemResolver()) as client:
        with pytest.raises(EgressFailed):
            await client.get("http://nowhere.test:8080/")


class HeldDNS:
    """A DNS server on 127.0.0.1:53, where the namespace's resolv.conf sends names outside
    its hosts file: it notes each name asked and answers nothing until :meth:`release`,
    then SERVFAIL to every query, as a name server the asker cannot hurry."""

    def __init__(self) -> None:
        self.names: set[bytes] = set()
        self.released = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 53))
        self._sock.settimeout(0.05)
        self._held: list[tuple[bytes, object]] = []
        self._stop = False

    def release(self) -> None:
        self.released.set()

    def serve(self) -> None:
        while not self._stop:
            try:
                query, peer = self._sock.recvfrom(512)
            except TimeoutError:
                query = b""
            if query:
                # The first label after the 12-byte header: "x3" of x3.held.test.
                self.names.add(query[13 : 13 + query[12]])
                self._held.append((query, peer))
            while self.released.is_set() and self._held:
                held, to = self._held.pop()
                self._sock.sendto(held[:2] + b"\x81\x82" + held[4:], to)  # SERVFAIL

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[HeldDNS]:
        server = cls()
        thread = threading.Thread(target=server.serve)
        thread.start()
        try:
            yield server
        finally:
            server.release()
            while server._held:  # every held lookup gets its answer before the server goes
                server.released.wait(0.01)
            server._stop = True
            thread.join()
            server._sock.close()


async def test_lookups_a_dns_server_holds_leave_the_default_executor_free():
    # The failure: SystemResolver looked names up in the event loop's default executor (six
    # threads on two cores), and getaddrinfo cannot be cancelled: fetches of names whose
    # DNS server never answers held all its threads for the resolver's timeout, and sync
    # handlers, asyncio.to_thread and other clients' lookups (JWKS, Upstash) waited.
    default_threads = min(32, (os.cpu_count() or 1) + 4)  # ThreadPoolExecutor's default
    with HeldDNS.running() as dns:
        async with GuardedClient(POLICY, resolver=SystemResolver()) as client:
            fetches = [
                asyncio.ensure_future(client.get(f"http://x{i}.held.test/"))
                for i in range(default_threads)
            ]
            while len(dns.names) < default_threads:  # every lookup is on a thread, held
                await asyncio.sleep(0.01)
            free = asyncio.to_thread(lambda: not dns.released.is_set())
            assert await asyncio.wait_for(free, 10)  # ran while every lookup was held
            dns.release()
            outcomes = await asyncio.gather(*fetches, return_exceptions=True)
    assert all(isinstance(outcome, EgressFailed) for outcome in outcomes), outcomes


async def test_303_after_post_follows_with_get_and_no_body(upstream):
    upstream.replies["/form"] = Reply(303, {"location": "/result"})
    upstream.replies["/result"] = Reply(body=b"ok")
    async with GuardedClient(POLICY) as client:
        await client.request(
            "POST", upstream.url("/form"), body=b"a=1", headers={"content-type": "x/y"}
        )
    second = upstream.requests[1]
    assert (second.method, second.body, "content-type" in second.headers) == ("GET", b"", False)


async def test_307_after_post_resends_method_and_body(upstream):
    upstream.replies["/form"] = Reply(307, {"location": "/again"})
    upstream.replies["/again"] = Reply(body=b"ok")
    async with GuardedClient(POLICY) as client:
        await client.request("POST", upstream.url("/form"), body=b"a=1")
    assert (upstream.requests[1].method, upstream.requests[1].body) == ("POST", b"a=1")


async def test_caller_cannot_override_the_host_header(upstream):
    async with GuardedClient(POLICY) as client:
        with pytest.raises(EgressDenied, match="Host"):
            await client.get(upstream.url("/"), headers={"Host": "internal.example"})
    assert upstream.connections == 0


async def test_httpx_request_with_mismatched_host_header_is_refused(upstream):
    transport = GuardedTransport(POLICY)
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        with pytest.raises(EgressDenied, match="Host"):
            await client.get(upstream.url("/"), headers={"Host": "internal.example"})
    assert upstream.connections == 0


async def test_httpx_client_over_guarded_transport_reaches_allowed_address(upstream):
    upstream.replies["/"] = Reply(body=b"via httpx")
    async with httpx.AsyncClient(transport=GuardedTransport(POLICY), trust_env=False) as client:
        response = await client.get(upstream.url("/"))
    assert response.content == b"via httpx"


def test_one_client_serves_requests_from_successive_event_loops():
    client = GuardedClient(POLICY)

    async def once() -> int:
        async with Upstream(ALLOWED) as server:
            server.replies["/"] = Reply(body=b"ok")
            return (await client.get(server.url("/"))).status

    assert [asyncio.run(once()), asyncio.run(once())] == [200, 200]


async def test_worker_threads_taking_turns_each_reuse_their_own_connection():
    answers = [raw_answer(b"%d" % n) for n in range(4)]
    async with KeepAlive(answers) as server:
        client = GuardedClient(POLICY)
        workers = [ThreadPoolExecutor(1), ThreadPoolExecutor(1)]
        loops = [asyncio.new_event_loop(), asyncio.new_event_loop()]

        def fetch(loop):
            return loop.run_until_complete(client.get(server.url)).status

        for turn in range(4):
            worker, loop = workers[turn % 2], loops[turn % 2]
            await asyncio.get_running_loop().run_in_executor(worker, fetch, loop)
        for worker, loop in zip(workers, loops, strict=True):
            worker.submit(lambda loop=loop: loop.run_until_complete(client.aclose())).result()
            worker.shutdown()
            loop.close()
    assert server.connections == 2


async def test_policy_only_client_fetches_allowed_literal(upstream):
    upstream.replies["/"] = Reply(body=b"workers")
    transport = HttpxTransport()
    response = await PolicyOnlyClient(transport, POLICY).get(upstream.url("/"))
    await transport.aclose()
    assert response.body == b"workers"
