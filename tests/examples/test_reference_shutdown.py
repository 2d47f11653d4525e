"""The reference app on shut-down: the HTTP clients it opened are closed, not left to the
collector."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from daloy_edge.testing import TestClient
from daloy_edge.transport import TransportResponse, set_default_transport
from examples.secure_app import create_app


class ClosingTransport:
    def __init__(self) -> None:
        self.closed = 0

    async def request(self, method: str, url: str, **options: object) -> TransportResponse:
        return TransportResponse(503)

    async def aclose(self) -> None:
        self.closed += 1


@pytest.fixture
def transport() -> Iterator[ClosingTransport]:
    installed = ClosingTransport()
    set_default_transport(installed)
    yield installed
    set_default_transport(None)


def test_shutdown_closes_the_jwks_and_upstash_clients(transport: ClosingTransport) -> None:
    app = create_app(
        {
            "DALOY_ENV": "development",
            "DALOY_SESSION_KEYS": "k" * 48,
            "DALOY_JWKS_URL": "http://127.0.0.1:9/jwks.json",
            "DALOY_JWT_ISSUER": "https://idp.test",
            "DALOY_JWT_AUDIENCE": "api://daloy",
            "DALOY_RATE_LIMIT_URL": "http://127.0.0.1:9",
            "DALOY_RATE_LIMIT_TOKEN": "token",
        }
    )
    # Each client takes the runtime's transport on first use: a token whose key is to be
    # fetched, and a request the rate limit counts.
    header = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"k1"}').rstrip(b"=").decode()
    with TestClient(app) as client:
        client.get("/api/me", headers={"authorization": f"Bearer {header}.e30.c2ln"})
        client.get("/limited")
    # The JWKS client's and the rate-limit store's (the nonce store never opened one).
    assert transport.closed == 2
