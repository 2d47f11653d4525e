from __future__ import annotations

from daloy_edge.verify import Status
from tests.verify.conftest import gate

NAME = "http-client-safety"


def found(layout, code: str, path: str = "app/fetch.py") -> list[str]:
    return [f.message for f in gate(layout({path: code}), NAME).findings]


def test_flags_requests_call_without_timeout(layout):
    code = "import requests\ndef f(u):\n    return requests.get(u)\n"
    assert found(layout, code) == [
        "requests call without timeout=: a stalled server hangs it forever"
    ]


def test_flags_requests_session_call_without_timeout(layout):
    code = "import requests\ns = requests.Session()\ndef f(u):\n    return s.post(u, json={})\n"
    assert len(found(layout, code)) == 1


def test_flags_timeout_none_and_verify_false_on_httpx(layout):
    code = "import httpx\ndef f(u):\n    return httpx.get(u, timeout=None, verify=False)\n"
    assert found(layout, code) == [
        "timeout=None disables the timeout",
        "verify=False: TLS certificates are not checked",
    ]


def test_flags_unverified_tls_contexts(layout):
    code = """
    import ssl
    ctx = ssl._create_unverified_context()
    other = ssl.create_default_context()
    other.check_hostname = False
    other.verify_mode = ssl.CERT_NONE
    """
    assert len(found(layout, code)) == 3


def test_flags_urlopen_without_timeout(layout):
    code = "from urllib.request import urlopen\ndef f(u):\n    return urlopen(u).read()\n"
    assert found(layout, code) == ["urlopen without timeout=: a stalled server hangs it forever"]


def test_flags_redirects_followed_on_a_url_from_the_request(layout):
    code = """
    import httpx
    async def proxy(request):
        target = request.query.get("url")
        async with httpx.AsyncClient() as client:
            return await client.get(target, follow_redirects=True)
    """
    assert found(layout, code) == [
        "follow_redirects=True on a URL taken from the request: a redirect can reach internal "
        "hosts; fetch it through the egress guard"
    ]


def test_flags_redirecting_client_used_with_request_url(layout):
    code = """
    import httpx
    client = httpx.Client(follow_redirects=True)
    def proxy(request):
        return client.get(request.query.get("url"))
    """
    assert len(found(layout, code)) == 1


def test_passes_timeouts_fixed_urls_and_the_egress_guard(layout):
    fine = """
    import httpx, requests
    JWKS = "https://issuer.example/jwks"
    def f(request):
        requests.get(JWKS, timeout=5)
        httpx.get(request.query.get("url"))
        return httpx.get(JWKS, follow_redirects=True)
    """
    guard = """
    import httpx
    async def fetch(request):
        async with httpx.AsyncClient() as c:
            return await c.get(request.query.get("url"), follow_redirects=True)
    """
    project = layout({"app/ok.py": fine, "app/egress/client.py": guard})
    assert gate(project, NAME).status is Status.PASS


def test_flags_requests_following_redirects_by_default_on_a_url_from_the_request(layout):
    code = """
    import requests
    session = requests.Session()
    def proxy(request):
        url = request.query.get("url")
        requests.head(url, timeout=5)
        requests.get(url, timeout=5, allow_redirects=False)
        requests.get(url, timeout=5)
        return session.post(url, timeout=5)
    """
    assert (
        found(layout, code)
        == [
            "allow_redirects=True on a URL taken from the request: a redirect can reach internal "
            "hosts; fetch it through the egress guard"
        ]
        * 2
    )
