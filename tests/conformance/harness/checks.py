"""Assertions shared by the conformance tests."""

from __future__ import annotations

from tests.conformance.harness.client import Reply, Transport

PROBLEM = "application/problem+json"
PROBLEM_PREFIX = "urn:daloy-edge:problem:"
HSTS = "max-age=31536000; includeSubDomains"

RESOLVES_DOT_SEGMENTS = ("workers",)
"""Transports whose platform parses the URL before the app runs and resolves ``..`` and
``%2e%2e`` segments (Cloudflare, like any WHATWG URL parser): ``/static/../x`` reaches
the Worker as ``/x``, so the app never sees a traversal to refuse."""


def resolves_dot_segments(transport: Transport) -> bool:
    """True when ``transport``'s platform resolves dot segments before the app runs."""
    return transport.name in RESOLVES_DOT_SEGMENTS


def assert_problem(reply: Reply, status: int, slug: str | None = None) -> dict[str, object]:
    """``reply`` is an RFC 9457 problem with ``status`` (and type ending in ``slug``)."""
    assert reply.status == status, (reply.status, reply.body[:300])
    assert reply.media_type == PROBLEM
    problem = reply.json()
    assert isinstance(problem, dict)
    assert problem["status"] == status
    assert str(problem["type"]).startswith(PROBLEM_PREFIX)
    if slug is not None:
        assert problem["type"] == PROBLEM_PREFIX + slug, problem["type"]
    assert problem["title"]
    assert problem["request_id"] == reply.headers.get("x-request-id")
    return problem


def assert_secure_headers(reply: Reply) -> None:
    """The headers CONTRACT.md puts on every response."""
    headers = reply.headers
    assert headers.get("strict-transport-security") == HSTS
    assert headers.get("x-content-type-options") == "nosniff"
    for name in (
        "referrer-policy",
        "cross-origin-opener-policy",
        "cross-origin-resource-policy",
        "permissions-policy",
        "x-request-id",
        "server-timing",
    ):
        assert headers.get(name), f"{name} missing on a {reply.status}"


def cookie_attributes(set_cookie: str) -> tuple[str, str, dict[str, str]]:
    """``(name, value, {attribute-lowercased: value})`` of one ``Set-Cookie`` field."""
    pair, *attributes = [part.strip() for part in set_cookie.split(";")]
    name, _, value = pair.partition("=")
    parsed: dict[str, str] = {}
    for attribute in attributes:
        key, _, attr_value = attribute.partition("=")
        parsed[key.lower()] = attr_value
    return name, value, parsed
