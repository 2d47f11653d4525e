"""SSRF attack corpus: every URL here must be refused by the egress policy, for its reason.

The corpus is checked against the pure policy (no network at all); the attacks that need a
network (DNS rebinding, redirect chains, names resolving to forbidden places, the corpus
through the reference app's ``/fetch``) run inside a fresh network namespace
(``netns_ssrf.py``) and are reported here one by one.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from daloy_edge.egress import EgressDenied, EgressPolicy
from tests import netns

META = "169.254.169.254"
FULLWIDTH = META.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
ARABIC_INDIC = META.translate({ord(d): 0x0660 + int(d) for d in "0123456789"})

# (attack, url, fragment of the denial reason)
CORPUS: list[tuple[str, str, str]] = [
    # every spelling of the metadata address
    ("metadata-dotted", f"http://{META}/latest/meta-data/", "metadata"),
    ("metadata-uppercase-scheme", f"HTTP://{META}/", "metadata"),
    ("metadata-explicit-port", f"http://{META}:80/", "metadata"),
    ("metadata-decimal", "http://2852039166/", "non-canonical"),
    ("metadata-hex", "http://0xa9fea9fe/", "non-canonical"),
    ("metadata-hex-uppercase", "http://0XA9FEA9FE/", "non-canonical"),
    ("metadata-octal", "http://0251.0376.0251.0376/", "non-canonical"),
    ("metadata-hex-octets", "http://0xa9.0xfe.0xa9.0xfe/", "non-canonical"),
    ("metadata-three-part", "http://169.254.43518/", "non-canonical"),
    ("metadata-two-part", "http://169.16689662/", "non-canonical"),
    ("metadata-mixed-octal", "http://0251.254.169.254/", "non-canonical"),
    ("metadata-zero-padded", "http://169.254.169.0254/", "non-canonical"),
    ("metadata-octet-overflow", "http://169.254.169.510/", "out of range"),
    ("metadata-trailing-dot", f"http://{META}./", "trailing dot"),
    ("metadata-ipv4-mapped", f"http://[::ffff:{META}]/", "metadata"),
    ("metadata-ipv4-mapped-hex", "http://[::ffff:a9fe:a9fe]/", "metadata"),
    ("metadata-ipv4-mapped-long", "http://[0:0:0:0:0:ffff:a9fe:a9fe]/", "metadata"),
    ("metadata-ipv4-compatible", "http://[::a9fe:a9fe]/", "metadata"),
    ("metadata-ipv4-translated", "http://[::ffff:0:a9fe:a9fe]/", "metadata"),
    ("metadata-nat64", "http://[64:ff9b::a9fe:a9fe]/", "metadata"),
    ("metadata-nat64-dotted", f"http://[64:ff9b::{META}]/", "metadata"),
    ("metadata-nat64-local-use", "http://[64:ff9b:1::a9fe:a9fe]/", "metadata"),
    ("metadata-6to4", "http://[2002:a9fe:a9fe::1]/", "metadata"),
    ("metadata-teredo", "http://[2001:0:4136:e378:8000:63bf:5601:5601]/", "metadata"),
    ("metadata-fullwidth-digits", f"http://{FULLWIDTH}/", "non-ASCII"),
    ("metadata-arabic-indic-digits", f"http://{ARABIC_INDIC}/", "non-ASCII"),
    ("metadata-fullwidth-dots", "http://169\uff0e254\uff0e169\uff0e254/", "non-ASCII"),
    ("metadata-ideographic-dots", "http://169\u3002254\u3002169\u3002254/", "non-ASCII"),
    ("metadata-percent-encoded-host", "http://%31%36%39.254.169.254/", "percent"),
    ("metadata-percent-encoded-dot", "http://169.254.169%2e254/", "percent"),
    ("metadata-ecs-credentials", "http://169.254.170.2/v2/credentials", "metadata"),
    ("metadata-eks-pod-identity", "http://169.254.170.23/v1/credentials", "metadata"),
    ("metadata-aws-ipv6", "http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("metadata-alibaba", "http://100.100.100.200/latest/meta-data/", "metadata"),
    ("metadata-oracle", "http://192.0.0.192/latest/meta-data/", "metadata"),
    ("metadata-oracle-nat64", "http://[64:ff9b::c000:c0]/latest/", "metadata"),
    ("metadata-azure-wireserver", "http://168.63.129.16/machine", "metadata"),
    ("metadata-gcp-name", "http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("metadata-gcp-short-name", "http://metadata.goog/computeMetadata/v1/", "metadata"),
    ("metadata-aws-name", "http://instance-data.ec2.internal/latest/", "metadata"),
    ("metadata-gcp-name-uppercase", "http://METADATA.GOOGLE.INTERNAL/", "metadata"),
    # userinfo and fragment tricks
    ("userinfo-allowed-before-metadata", f"http://allowed.test@{META}/", "userinfo"),
    ("userinfo-metadata-before-allowed", f"http://{META}@allowed.test/", "userinfo"),
    ("userinfo-credentials", f"http://user:pass@{META}/", "userinfo"),
    ("userinfo-port-lookalike", f"http://allowed.test:80@{META}/", "userinfo"),
    ("userinfo-ampersand", f"http://allowed.test&@{META}/", "userinfo"),
    ("userinfo-encoded-at", f"http://allowed.test%40{META}/", "percent"),
    ("userinfo-backslash-after-allowed", f"http://allowed.test\\@{META}/", "backslash"),
    ("userinfo-backslash-after-metadata", f"http://{META}\\@allowed.test/", "backslash"),
    ("backslash-as-slash", f"http:\\\\{META}/", "backslash"),
    ("fragment-at-after-allowed", f"http://allowed.test#@{META}/", "'@' in fragment"),
    ("fragment-at-after-metadata", f"http://{META}#@allowed.test/", "'@' in fragment"),
    ("userinfo-ipv6-literal", "http://[::1]@allowed.test/", "userinfo"),
    ("space-before-at", f"http://{META} &@allowed.test# @evil.test/", "whitespace"),
    # scheme tricks
    ("scheme-file", "file:///etc/passwd", "scheme"),
    ("scheme-gopher-redis", "gopher://127.0.0.1:6379/_SET%20x%201", "scheme"),
    ("scheme-dict", "dict://127.0.0.1:11211/stat", "scheme"),
    ("scheme-ftp", f"ftp://{META}/", "scheme"),
    ("scheme-ldap", "ldap://127.0.0.1/", "scheme"),
    ("scheme-netdoc", "netdoc:///etc/passwd", "scheme"),
    ("scheme-websocket", "ws://127.0.0.1/", "scheme"),
    ("scheme-http-unix", "http+unix://%2Fvar%2Frun%2Fdocker.sock/containers/json", "scheme"),
    ("scheme-jar", f"jar:http://{META}!/", "absolute"),
    ("scheme-data", "data:text/plain,hello", "absolute"),
    ("scheme-javascript", "javascript:alert(1)", "absolute"),
    ("scheme-single-slash", f"http:/{META}/", "absolute"),
    ("scheme-no-slashes", f"http:{META}/", "absolute"),
    ("scheme-relative", f"//{META}/", "absolute"),
    ("scheme-triple-slash", f"http:///{META}/", "empty host"),
    ("leading-space", f" http://{META}/", "whitespace"),
    ("leading-tab", f"\thttp://{META}/", "control"),
    ("crlf-header-injection", f"http://{META}/\r\nHost: allowed.test", "control"),
    ("nul-in-host", f"http://{META}\x00.allowed.test/", "control"),
    ("del-in-host", f"http://{META}\x7f/", "control"),
    # loopback
    ("loopback", "http://127.0.0.1/", "loopback"),
    ("loopback-other", "http://127.255.255.254/", "loopback"),
    ("loopback-short", "http://127.1/", "non-canonical"),
    ("loopback-zero", "http://0/", "non-canonical"),
    ("loopback-decimal", "http://2130706433/", "non-canonical"),
    ("loopback-hex", "http://0x7f000001/", "non-canonical"),
    ("loopback-octal", "http://017700000001/", "non-canonical"),
    ("loopback-zero-padded", "http://127.000.000.001/", "non-canonical"),
    ("loopback-bare-hex-prefix", "http://0x/", "non-canonical"),
    ("this-network", "http://0.0.0.0/", "this-network"),
    ("ipv6-loopback", "http://[::1]/", "loopback"),
    ("ipv6-loopback-long", "http://[0:0:0:0:0:0:0:1]/", "loopback"),
    ("ipv6-unspecified", "http://[::]/", "unspecified"),
    ("ipv4-mapped-loopback", "http://[::ffff:127.0.0.1]/", "loopback"),
    ("ipv4-mapped-loopback-hex", "http://[::ffff:7f00:1]/", "loopback"),
    ("ipv4-compatible-loopback", "http://[::127.0.0.1]/", "ipv4-compatible"),
    ("teredo-loopback-client", "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "loopback"),
    ("localhost-name", "http://localhost/", "single-label"),
    ("localhost-uppercase", "http://LOCALHOST/", "single-label"),
    ("localhost-subdomain", "http://app.localhost/", "special-use"),
    ("ipv6-zone-id", "http://[fe80::1%25eth0]/", "percent"),
    # private, shared, link-local and other special-purpose ranges
    ("rfc1918-10", "http://10.0.0.1/", "private"),
    ("rfc1918-172", "http://172.16.0.1/", "private"),
    ("rfc1918-172-top", "http://172.31.255.255/", "private"),
    ("rfc1918-192", "http://192.168.1.1/", "private"),
    ("cgnat", "http://100.64.0.1/", "shared-address-space"),
    ("link-local", "http://169.254.0.1/", "link-local"),
    ("benchmarking", "http://198.18.0.1/", "benchmarking"),
    ("benchmarking-top", "http://198.19.255.255/", "benchmarking"),
    ("multicast", "http://224.0.0.1/", "multicast"),
    ("multicast-ssdp", "http://239.255.255.250/", "multicast"),
    ("broadcast", "http://255.255.255.255/", "broadcast"),
    ("reserved-class-e", "http://240.0.0.1/", "reserved"),
    ("ietf-protocol-assignments", "http://192.0.0.170/", "ietf-protocol-assignments"),
    ("documentation-test-net-1", "http://192.0.2.1/", "documentation"),
    ("documentation-test-net-2", "http://198.51.100.1/", "documentation"),
    ("documentation-test-net-3", "http://203.0.113.1/", "documentation"),
    ("6to4-relay-anycast", "http://192.88.99.1/", "6to4-relay-anycast"),
    ("ipv6-unique-local", "http://[fc00::1]/", "unique-local"),
    ("ipv6-unique-local-fd", "http://[fd12:3456::1]/", "unique-local"),
    ("ipv6-link-local", "http://[fe80::1]/", "link-local"),
    ("ipv6-site-local", "http://[fec0::1]/", "site-local"),
    ("ipv6-multicast", "http://[ff02::1]/", "multicast"),
    ("ipv6-documentation", "http://[2001:db8::1]/", "documentation"),
    ("ipv6-documentation-3fff", "http://[3fff::1]/", "documentation"),
    ("ipv6-discard-only", "http://[100::1]/", "discard-only"),
    ("ipv6-srv6", "http://[5f00::1]/", "srv6"),
    ("ipv6-reserved", "http://[4000::1]/", "reserved"),
    ("ipv4-mapped-private", "http://[::ffff:10.0.0.1]/", "private"),
    ("nat64-private", "http://[64:ff9b::10.0.0.1]/", "inside nat64"),
    ("6to4-private", "http://[2002:c0a8:101::1]/", "inside 6to4"),
    # special-use and internal names
    ("single-label-intranet", "http://intranet/", "single-label"),
    ("special-use-lan", "http://router.lan/", "special-use"),
    ("special-use-mdns", "http://printer.local/", "special-use"),
    ("special-use-kubernetes", "http://kubernetes.default.svc/", "special-use"),
    ("special-use-cluster-local", "http://api.default.svc.cluster.local/", "special-use"),
    ("special-use-internal", "http://db.internal/", "special-use"),
    ("special-use-home-arpa", "http://gateway.home.arpa/", "special-use"),
    # RFC 9476: names for resolution systems other than DNS, never a public host
    ("special-use-alt", "http://resolver.alt/", "special-use"),
    # malformed authorities
    ("port-zero", f"http://{META}:0/", "invalid port"),
    ("port-overflow", f"http://{META}:65536/", "invalid port"),
    ("port-plus-sign", f"http://{META}:+80/", "invalid port"),
    ("port-letter-o", f"http://{META}:8O/", "invalid port"),
    ("port-empty", f"http://{META}:/", "invalid port"),
    ("port-double", f"http://{META}:80:80/", "invalid port"),
    ("ipv4-in-brackets", f"http://[{META}]/", "invalid IPv6"),
    ("ipv6-unterminated", "http://[::1/", "unterminated"),
    ("ipv6-junk-after", "http://[::1]x/", "junk"),
    ("empty-label", "http://allowed..test/", "empty label"),
    ("underscore-dot-host", "http://./", "empty label"),
]

# Everything outside the corpus is allowed here, so each URL is refused for its own reason.
PERMISSIVE = EgressPolicy(ports=None)


def test_corpus_has_at_least_eighty_attacks():
    assert len(CORPUS) >= 80
    assert len({attack for attack, _, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("attack", "url", "reason"), CORPUS, ids=[c[0] for c in CORPUS])
def test_policy_refuses_ssrf_url(attack, url, reason):
    with pytest.raises(EgressDenied) as denied:
        PERMISSIVE.check_url(url)
    assert reason in denied.value.reason


METADATA_ATTACKS = [c for c in CORPUS if c[2] == "metadata"]


@pytest.mark.parametrize(
    ("attack", "url", "reason"), METADATA_ATTACKS, ids=[c[0] for c in METADATA_ATTACKS]
)
def test_metadata_stays_denied_when_every_range_is_opted_in(attack, url, reason):
    everything = EgressPolicy(ports=None, allow_cidrs=("0.0.0.0/0", "::/0"))
    with pytest.raises(EgressDenied, match="metadata"):
        everything.check_url(url)


def test_metadata_address_named_exactly_is_allowed():
    policy = EgressPolicy(allow_cidrs=(f"{META}/32",))
    assert policy.check_url(f"http://{META}/latest/").host == META


def test_metadata_name_listed_exactly_is_allowed():
    policy = EgressPolicy(allow_hosts=("metadata.google.internal",))
    assert policy.check_url("http://metadata.google.internal/").host == "metadata.google.internal"


def test_metadata_name_is_not_admitted_by_a_wildcard():
    policy = EgressPolicy(allow_hosts=("*.google.internal",))
    with pytest.raises(EgressDenied, match="metadata"):
        policy.check_url("http://metadata.google.internal/")


FORBIDDEN_ADDRESSES = (
    "127.0.0.1",
    "0.0.0.0",
    "10.0.0.1",
    "192.168.0.1",
    META,
    "100.100.100.200",
    "192.0.0.192",
)


def _spellings(address: str) -> list[str]:
    """The IPv4 spellings of the public SSRF payload lists, and IPv6 carriers of each."""
    a, b, c, d = (int(o) for o in address.split("."))
    n, hi, lo = a << 24 | b << 16 | c << 8 | d, f"{a << 8 | b:x}", f"{c << 8 | d:x}"
    teredo = f"{(a << 8 | b) ^ 0xFFFF:x}:{(c << 8 | d) ^ 0xFFFF:x}"
    hosts = [
        *(f"{address}{suffix}" for suffix in ("", ".", ":80", ":443", ":22", ":0", ":65536")),
        *(str(form) for form in (n, hex(n), hex(n).upper(), f"0{n:o}")),
        ".".join(f"0{o:o}" for o in (a, b, c, d)),
        ".".join(hex(o) for o in (a, b, c, d)),
        ".".join(f"{o:04}" for o in (a, b, c, d)),
        f"{a}.{b}.{c << 8 | d}",
        f"{a}.{b << 16 | c << 8 | d}",
        address.replace(".", "%2e"),
        address.replace(".", "%252e"),
        address.replace(".", "\uff0e"),
        address.replace(".", "\u3002"),
        address.translate({ord(x): 0xFF10 + int(x) for x in "0123456789"}),
        f"{address}:443:80",
        f"{address}\t",
    ]
    carriers = [
        f"::ffff:{address}", f"0:0:0:0:0:ffff:{address}", f"::ffff:{hi}:{lo}", f"::{address}",
        f"::{hi}:{lo}", f"::ffff:0:{address}", f"64:ff9b::{address}", f"64:ff9b::{hi}:{lo}",
        f"64:ff9b:1::{hi}:{lo}", f"2002:{hi}:{lo}::1", f"2001:0:4136:e378:8000:63bf:{teredo}",
    ]  # fmt: skip
    return [f"http://{h}/" for h in hosts] + [f"http://[{h}]/" for h in carriers]


CORPUS_POLICIES = {
    "public-only": EgressPolicy(),
    "one-host": EgressPolicy(allow_hosts=("api.example.com",)),
    "wildcard": EgressPolicy(allow_hosts=("*.example.com",)),
}


@pytest.mark.parametrize("policy", CORPUS_POLICIES.values(), ids=CORPUS_POLICIES.keys())
def test_every_payload_list_spelling_of_a_forbidden_address_is_refused(policy):
    # Decimal, hex, octal, zero-padded, short and mixed forms, trailing dots, odd ports,
    # percent and full-width dots and digits, and the mapped, compatible, NAT64, 6to4 and
    # Teredo carriers, for loopback, private, unspecified and metadata addresses.
    urls = [url for address in FORBIDDEN_ADDRESSES for url in _spellings(address)]
    allowed = []
    for url in urls:
        with contextlib.suppress(EgressDenied):
            allowed.append(policy.check_url(url).url)
    assert allowed == []
    assert len(urls) == 7 * 34


def test_query_at_sign_does_not_change_the_host():
    target = PERMISSIVE.check_url(f"http://allowed.test/?@{META}/")
    assert (target.host, target.path) == ("allowed.test", f"/?@{META}/")


NAMESPACE_MODULE = Path(__file__).with_name("netns_ssrf.py")


@pytest.mark.parametrize("test", netns.inner_tests(NAMESPACE_MODULE))
def test_ssrf_attack_inside_network_namespace(test):
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    outcome = netns.check(NAMESPACE_MODULE.stem, test)
    assert outcome.passed, outcome.message
    if outcome.skipped:
        pytest.skip("skipped inside the namespace")
