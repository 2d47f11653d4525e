"""The egress public surface: exports, lazy imports, problem rendering and the middleware.

Nothing here opens a socket or resolves a name; the network tests run in a namespace.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import daloy_edge.egress as egress
from daloy_edge import App, ConfigError, Request
from daloy_edge.egress import (
    EgressDenied,
    EgressFailed,
    EgressPolicy,
    EgressTimeout,
    FetchGuard,
    FetchLimits,
    GuardedClient,
    PolicyOnlyClient,
    egress_client,
    fetch_guard,
)
from daloy_edge.testing import TestClient
from daloy_edge.transport import TransportError, TransportResponse
from examples.secure_app import create_app
from tests.netns import ROOT


def test_public_api_is_pinned():
    assert sorted(egress.__all__) == sorted(
        [
            "METADATA_ADDRESSES",
            "METADATA_HOSTS",
            "SPECIAL_USE_DOMAINS",
            "EgressClient",
            "EgressDenied",
            "EgressFailed",
            "EgressPolicy",
            "EgressResponse",
            "EgressTimeout",
            "FetchGuard",
            "FetchLimits",
            "GuardedClient",
            "GuardedTransport",
            "PolicyOnlyClient",
            "Resolver",
            "SystemResolver",
            "Target",
            "egress_client",
            "fetch_guard",
        ]
    )
    for name in egress.__all__:
        assert getattr(egress, name) is not None


def test_building_the_guard_and_the_reference_app_does_not_import_httpx():
    code = (
        "import sys\n"
        "from daloy_edge.egress import fetch_guard\n"
        "fetch_guard(allow_hosts=['example.com'])\n"
        "import examples.secure_app\n"
        "examples.secure_app.app\n"
        "assert 'httpx' not in sys.modules and 'httpcore' not in sys.modules, 'httpx loaded'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_egress_errors_are_transport_errors():
    assert issubclass(EgressDenied, TransportError)
    assert issubclass(EgressTimeout, EgressFailed)


def _raising(exc: Exception) -> TestClient:
    app = App()

    @app.get("/x")
    async def x(request):
        raise exc

    return TestClient(app)


def test_egress_denied_renders_as_403_problem_without_the_reason():
    response = _raising(EgressDenied("loopback address 127.0.0.1")).get("/x")
    assert response.status == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("egress-denied")
    assert "127.0.0.1" not in response.text


def test_egress_failed_renders_as_502():
    response = _raising(EgressFailed("ConnectError")).get("/x")
    assert (response.status, response.json()["type"]) == (
        502,
        "urn:daloy-edge:problem:egress-failed",
    )


def test_egress_timeout_renders_as_504():
    response = _raising(EgressTimeout("ReadTimeout")).get("/x")
    assert (response.status, response.json()["type"]) == (
        504,
        "urn:daloy-edge:problem:egress-timeout",
    )


def test_fetch_guard_hands_handlers_the_guarded_client():
    guard = fetch_guard(allow_hosts=["api.example.com"])
    app = App()
    app.use(guard)
    seen = []

    @app.get("/x")
    async def x(request):
        seen.append(egress_client(request))
        return {}

    TestClient(app).get("/x")
    assert seen == [guard.client]
    assert isinstance(guard.client, GuardedClient)
    assert guard.client.policy.check_url("https://api.example.com/").host == "api.example.com"


def test_fetch_guard_refuses_a_single_string_as_host_list():
    with pytest.raises(ConfigError):
        fetch_guard(allow_hosts="api.example.com")


def test_egress_client_without_a_guard_raises_lookup_error():
    with pytest.raises(LookupError, match="fetch_guard"):
        egress_client(Request("GET", "/"))


class RecordingFetch:
    """Stands in for Cloudflare's js.fetch (redirect: "manual"), which cannot run here."""

    def __init__(self, replies: dict[str, TransportResponse]) -> None:
        self.replies = replies
        self.urls: list[str] = []

    async def request(self, method, url, *, headers=None, body=None, timeout=5.0, max_bytes=1):
        self.urls.append(url)
        reply = self.replies.get(url)
        if reply is None:
            raise TransportError("unreachable")
        return reply


def test_fetch_guard_with_policy_only_transport_builds_the_policy_only_client():
    guard = fetch_guard(policy_only_transport=RecordingFetch({}))
    assert isinstance(guard, FetchGuard)
    assert isinstance(guard.client, PolicyOnlyClient)


async def test_policy_only_client_never_hands_a_denied_redirect_to_fetch():
    fetch = RecordingFetch(
        {"https://a.example/": TransportResponse(302, {"Location": "http://169.254.169.254/"})}
    )
    client = PolicyOnlyClient(fetch, EgressPolicy())
    with pytest.raises(EgressDenied, match="metadata"):
        await client.get("https://a.example/")
    assert fetch.urls == ["https://a.example/"]


async def test_policy_only_client_follows_allowed_redirects_itself():
    fetch = RecordingFetch(
        {
            "https://a.example/": TransportResponse(301, {"Location": "/next"}),
            "https://a.example/next": TransportResponse(200, {}, b"done"),
        }
    )
    response = await PolicyOnlyClient(fetch, EgressPolicy()).get("https://a.example/")
    assert (response.status, response.body, response.url) == (
        200,
        b"done",
        "https://a.example/next",
    )
    assert response.redirects == ("https://a.example/",)


async def test_policy_only_client_reports_fetch_failure_as_egress_failed():
    client = PolicyOnlyClient(RecordingFetch({}), EgressPolicy())
    with pytest.raises(EgressFailed):
        await client.get("https://a.example/")


def test_fetch_route_without_url_is_400():
    assert TestClient(create_app({})).get("/fetch").status == 400


def test_fetch_route_with_two_url_parameters_is_400():
    client = TestClient(create_app({}))
    assert client.get("/fetch?url=https://a.example/&url=http://127.0.0.1/").status == 400


@pytest.mark.parametrize(
    "url",
    ["", "not a url", "//169.254.169.254/", "https://a.example/" + "a" * 5000],
    ids=["empty", "words", "scheme-relative", "too-long"],
)
def test_fetch_route_with_something_that_is_not_a_url_is_400(url):
    assert TestClient(create_app({})).get("/fetch", params={"url": url}).status == 400


def test_reference_app_refuses_invalid_allow_cidrs_at_build():
    with pytest.raises(ValueError, match="CIDR"):
        create_app({"DALOY_EGRESS_ALLOW_CIDRS": "10.0.0.0/33"})


def test_default_guard_builds_its_client_on_first_use():
    guard = fetch_guard(ports=None)
    assert guard._client is None
    assert isinstance(guard.client, egress.GuardedClient)
    assert guard.client is guard.client


def test_guard_with_an_invalid_cidr_still_refuses_to_build():
    with pytest.raises(ConfigError):
        fetch_guard(allow_cidrs=["10.0.0.1/8"])


class RefusingResolver:
    """Fails the test if the client ever looks a name up (nothing may leave the machine)."""

    async def resolve(self, host: str, port: int) -> list[str]:
        raise AssertionError(f"resolved {host}")


@pytest.mark.parametrize(
    "url", ["http://xn--zz.com/", "https://xn--.example.com/", "https://xn--ls8h.la/"]
)
async def test_guarded_client_refuses_an_xn_label_that_is_no_idna_name(url):
    # httpx's IDNA check, stricter than the policy's punycode check (an emoji label), raised
    # on these (a 500 on /fetch).
    client = GuardedClient(EgressPolicy(), resolver=RefusingResolver())
    with pytest.raises(EgressDenied, match="IDNA"):
        await client.get(url)


async def test_guarded_client_without_httpx_installed_names_the_http_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "httpx" or m.startswith("httpx.")]:
        monkeypatch.setitem(sys.modules, name, None)
    policy = EgressPolicy(allow_cidrs=("127.0.0.0/8",))
    client = GuardedClient(policy, resolver=RefusingResolver())
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'daloy-edge\[http\]'"):
        await client.get("http://127.0.0.1/")


def test_a_response_size_bound_of_nan_refuses_to_build():
    # No response is longer than NaN: upstream bodies of any size were read.
    with pytest.raises(ConfigError, match="max_bytes"):
        FetchLimits(max_bytes=float("nan"))
