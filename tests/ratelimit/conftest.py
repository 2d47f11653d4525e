"""A real redis-server with the Upstash REST shim in front, shared by the rate-limit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from daloy_edge.ratelimit import UpstashREST
from daloy_edge.transport import HttpxTransport
from tests.support.redis_server import RedisServer, ShimServer, redis_and_shim


@pytest.fixture(scope="session")
def redis_stack() -> Iterator[tuple[RedisServer, ShimServer]]:
    with redis_and_shim() as stack:
        yield stack


@pytest.fixture
def redis_server(redis_stack: tuple[RedisServer, ShimServer]) -> RedisServer:
    server, _ = redis_stack
    server.client().flushall()
    return server


@pytest.fixture
def shim(redis_stack: tuple[RedisServer, ShimServer], redis_server: RedisServer) -> ShimServer:
    _, shim = redis_stack
    shim.reset()
    return shim


@pytest.fixture
async def rest(shim: ShimServer) -> AsyncIterator[UpstashREST]:
    transport = HttpxTransport()
    yield UpstashREST(shim.url, shim.token, transport=transport)
    await transport.aclose()
