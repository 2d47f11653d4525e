"""HttpxTransport: every failure to complete a request is a TransportError."""

from __future__ import annotations

import pytest

from daloy_edge.transport import HttpxTransport, TransportError


@pytest.mark.parametrize(
    "url", ["https://xn--zz.example/jwks.json", "https://xn--a.example/", "http://127.0.0.1/a\nb"]
)
async def test_url_httpx_cannot_parse_is_a_transport_error_not_a_crash(url):
    transport = HttpxTransport()
    try:
        with pytest.raises(TransportError):
            await transport.request("GET", url)
    finally:
        await transport.aclose()
