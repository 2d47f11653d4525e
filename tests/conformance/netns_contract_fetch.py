"""``GET /fetch`` to cloud metadata and private networks, refused on every transport.

Runs only inside a fresh network namespace (nothing but loopback, and the private
``/etc/hosts`` of :mod:`tests.netns`), so a guard that failed could not send a packet
anywhere; reported through ``test_contract_fetch_netns.py``.
"""

from __future__ import annotations

from tests import netns

netns.assert_isolated()

from urllib.parse import quote  # noqa: E402

import pytest  # noqa: E402

from tests.conformance.harness.checks import assert_problem  # noqa: E402
from tests.conformance.harness.client import Reply, Transport  # noqa: E402
from tests.conformance.harness.upstream import Upstream  # noqa: E402

DENIED = {
    "metadata-literal": "http://169.254.169.254/latest/meta-data/",
    "metadata-name": "http://metadata.test/latest/meta-data/",
    "metadata-ipv4-mapped": "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "metadata-name-ipv4-mapped": "http://mapped.test/",
    "metadata-ipv6-ula": "http://[fd00:ec2::254]/latest/meta-data/",
    "private-literal": "http://10.0.0.1/",
    "private-name": "http://private.test/",
    "private-decimal": "http://167772161/",
    "private-name-mixed-with-loopback": "http://mixed.test/",
}


pytestmark = pytest.mark.usefixtures("fetch_ready")


@pytest.fixture(autouse=True)
def _not_on_workers(request: pytest.FixtureRequest) -> None:
    # Checked before the transport starts, so Pyodide is never started in here.
    if request.node.callspec.params.get("http") == "workers":
        pytest.skip(
            "Workers: Pyodide has no DNS, so its guard is policy-only and names are the "
            "platform's to resolve; its refusal of literal metadata and private addresses "
            "is covered by the policy tests in tests/egress"
        )


def fetch(http: Transport, url: str) -> Reply:
    return http.get("/fetch?url=" + quote(url, safe=""))


@pytest.mark.parametrize("url", list(DENIED.values()), ids=list(DENIED))
def test_fetch_of_metadata_or_private_address_is_403_egress_denied(
    http: Transport, url: str
) -> None:
    problem = assert_problem(fetch(http, url), 403)
    assert str(problem["type"]).endswith("egress-denied")


@pytest.mark.parametrize("target", ["169.254.169.254", "10.0.0.1"], ids=["metadata", "private"])
def test_fetch_refuses_a_redirect_to_metadata_or_private_address(
    http: Transport, upstream: Upstream, target: str
) -> None:
    location = quote(f"http://{target}/latest/meta-data/", safe="")
    problem = assert_problem(fetch(http, upstream.url(f"/redirect?to={location}")), 403)
    assert str(problem["type"]).endswith("egress-denied")
