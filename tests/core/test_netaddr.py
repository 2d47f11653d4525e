"""The address parser against :mod:`ipaddress` as an oracle, over generated inputs.

``daloy_edge._netaddr`` parses addresses and CIDRs itself (so that neither building an
allow-list nor serving a request imports ``ipaddress``); it must accept exactly what
``ipaddress`` accepts and read it as the same number.
"""

from __future__ import annotations

import ipaddress
import random
import subprocess
import sys

import pytest

from daloy_edge import ConfigError, _netaddr
from daloy_edge._netaddr import (
    NetworkSet,
    canonical_ip,
    format_ip,
    is_loopback_host,
    parse_ip,
    resolve_client,
)

SEED = 20260412
ALPHABET = "0123456789abcdefABCDEF:.%/ x[]"


def _oracle_network(text: str, strict: bool = True) -> tuple[int, int, int] | None:
    try:
        network = ipaddress.ip_network(text.strip(), strict=strict)
    except ValueError:
        return None
    value, prefix = int(network.network_address), network.prefixlen
    if network.version == 6 and value >> 32 == 0xFFFF and prefix >= 96:
        return 4, value & 0xFFFFFFFF, prefix - 96
    return network.version, value, prefix


def _ours_network(text: str, strict: bool = True) -> tuple[int, int, int] | None:
    try:
        networks = NetworkSet([text], strict=strict)
    except ConfigError:
        return None
    ((_mask, (network,)),) = networks._v4 or networks._v6
    return (4 if networks._v4 else 6), network, networks.prefixlens[0]


def _oracle_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """What the parser did before: the same clean-up, then ``ipaddress.ip_address`` (which
    takes a ``%zone`` on IPv6 only; the zone is then dropped)."""
    value = text.strip()
    if value.startswith("["):
        value, bracket, _ = value[1:].partition("]")
        if not bracket:
            return None
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        return ipaddress.IPv6Address(int(address))
    return address


def _hextets(rng: random.Random) -> list[str]:
    return [
        rng.choice(["0", "00", "ffff", "1", "db8", "abcd", "FFFF", "0000", "12345", ""])
        if rng.random() < 0.3
        else f"{rng.getrandbits(16):x}"
        for _ in range(rng.randint(6, 9))
    ]


def _octet(rng: random.Random) -> str:
    return rng.choice(["0", "00", "01", "255", "256", "999", "1", "10", "127", "", "1a", "-1"])


def _dotted(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return ".".join(str(rng.randint(0, 255)) for _ in range(4))
    return ".".join(_octet(rng) for _ in range(rng.randint(3, 5)))


def _v6_text(rng: random.Random) -> str:
    parts = _hextets(rng)
    if rng.random() < 0.5:
        start = rng.randint(0, len(parts) - 1)
        parts[start : start + rng.randint(1, 4)] = [""]
        if parts[0] == "":
            parts.insert(0, "")
        if parts[-1] == "":
            parts.append("")
    text = ":".join(parts)
    if rng.random() < 0.2:
        text = text.rsplit(":", 2)[0] + ":" + _dotted(rng)
    if rng.random() < 0.1:
        text += rng.choice(["%eth0", "%", "%1%2", "%a.b"])
    return text


def _mapped(rng: random.Random) -> str:
    return rng.choice(["::ffff:", "::FFFF:", "0:0:0:0:0:ffff:", "::"]) + _dotted(rng)


def _from_network(rng: random.Random, version: int) -> str:
    bits = 32 if version == 4 else 128
    prefix = rng.randint(0, bits)
    value = rng.getrandbits(bits)
    if rng.random() < 0.7:
        value &= ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
    if version == 6 and rng.random() < 0.3:
        value = 0xFFFF << 32 | rng.getrandbits(32)
    address = ipaddress.ip_address(value) if version == 4 else ipaddress.IPv6Address(value)
    text = address.exploded if rng.random() < 0.3 else str(address)
    return f"{text}/{prefix}"


def _mask(rng: random.Random) -> str:
    prefix = rng.randint(0, 32)
    netmask = ipaddress.IPv4Address(((1 << 32) - 1) ^ ((1 << (32 - prefix)) - 1))
    hostmask = ipaddress.IPv4Address(int(netmask) ^ ((1 << 32) - 1))
    return rng.choice(
        [
            str(netmask),
            str(hostmask),
            _dotted(rng),
            str(rng.randint(0, 140)),
            "032",
            "",
            "+8",
            " 8",
            "8 ",
            "٣",
        ]
    )


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 24)))


def _generated(count: int) -> list[str]:
    rng = random.Random(SEED)
    makers = [
        lambda: _dotted(rng),
        lambda: _v6_text(rng),
        lambda: _mapped(rng),
        lambda: _random_text(rng),
        lambda: _from_network(rng, 4),
        lambda: _from_network(rng, 6),
        lambda: f"{_dotted(rng)}/{_mask(rng)}",
        lambda: f"{_v6_text(rng)}/{_mask(rng)}",
        lambda: f"{_mapped(rng)}/{rng.randint(90, 129)}",
    ]
    texts = [rng.choice(makers)() for _ in range(count)]
    return texts + [f" {t}\t" for t in texts[:200]] + [f"[{t}]:443" for t in texts[:200]]


CASES = _generated(6000)


def test_the_generated_inputs_cover_accepted_and_refused_networks():
    accepted = sum(_oracle_network(text) is not None for text in CASES)
    assert 1000 < accepted < len(CASES) - 1000


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "host-bits-cleared"])
def test_networks_are_accepted_and_read_exactly_as_ipaddress_reads_them(strict: bool):
    mismatches = [t for t in CASES if _ours_network(t, strict) != _oracle_network(t, strict)]
    assert mismatches == []


def test_addresses_are_parsed_and_written_exactly_as_ipaddress_does():
    mismatches = []
    for text in CASES:
        oracle = _oracle_address(text)
        ours = parse_ip(text)
        if oracle is None or ours is None:
            if oracle is not ours:
                mismatches.append(text)
        elif ours != (oracle.version, int(oracle)) or format_ip(ours) != str(oracle):
            mismatches.append(text)
    assert mismatches == []


def test_membership_matches_ipaddress():
    rng = random.Random(SEED + 1)
    networks = [t for t in CASES if _oracle_network(t) is not None]
    addresses = [t for t in CASES if _oracle_address(t) is not None]
    for _ in range(3000):
        cidr, text = rng.choice(networks), rng.choice(addresses)
        version, value, prefix = _oracle_network(cidr)  # type: ignore[misc]
        oracle_net: ipaddress.IPv4Network | ipaddress.IPv6Network = (
            ipaddress.IPv4Network((value, prefix))
            if version == 4
            else ipaddress.IPv6Network((value, prefix))
        )
        address = _oracle_address(text)
        expected = address is not None and address.version == version and address in oracle_net
        assert (text in NetworkSet([cidr])) is expected, (cidr, text)


class _CountedValue(int):
    """An address value that counts the masks applied to it."""

    masks = 0

    def __and__(self, other: int) -> int:
        _CountedValue.masks += 1
        return int(self) & other


def _cloud_ranges(count: int) -> list[str]:
    rng = random.Random(SEED + 2)
    found: set[str] = set()
    while len(found) < count:
        prefix = rng.randint(12, 28)
        value = rng.getrandbits(32) >> (32 - prefix) << (32 - prefix)
        found.add(f"{ipaddress.IPv4Address(value)}/{prefix}")
    return sorted(found)


def test_a_client_outside_ten_thousand_ranges_costs_a_mask_per_prefix_length():
    # An allow-list or trusted-proxy list of cloud provider ranges: every request from
    # a client outside it was compared with each of the 10,000 networks in turn.
    networks = NetworkSet(_cloud_ranges(10_000))
    _CountedValue.masks = 0
    assert (4, _CountedValue(0xC0000201)) not in networks  # 192.0.2.1, in none of them
    assert _CountedValue.masks <= 17  # prefix lengths 12 to 28


def test_membership_in_a_large_overlapping_set_matches_ipaddress():
    cidrs = [*_cloud_ranges(2000), "10.0.0.0/8", "10.1.0.0/16", "::/0"]
    networks = NetworkSet(cidrs)
    oracle = [ipaddress.ip_network(c) for c in cidrs]
    rng = random.Random(SEED + 3)
    inside = [str(n.network_address + rng.randrange(n.num_addresses)) for n in oracle[:500]]
    outside = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(500)]
    for text in [*inside, *outside, "10.1.2.3", "2001:db8::1"]:
        address = ipaddress.ip_address(text)
        expected = any(address.version == n.version and address in n for n in oracle)
        assert (text in networks) is expected, text


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("128.0.0.1", False),
        ("::2", False),
        ("example.com", False),
        ("", False),
        ("127.0.0.1%2eattacker.example", False),
        ("127.0.0.1%40attacker.example", False),
        ("[::1%25lo]", False),
    ],
)
def test_loopback_hosts_are_recognised(host: str, loopback: bool):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize("text", ["10.0.0.1%eth0", "127.0.0.1%2eattacker.example:80"])
def test_a_zone_on_ipv4_text_makes_it_not_an_address(text: str):
    # "127.0.0.1%2eattacker.example" is a host name: read as 127.0.0.1 it passed the
    # https-or-loopback rule, so keys could be fetched in plain text from another host.
    assert parse_ip(text) is None


def test_a_zone_on_ipv6_text_is_dropped():
    assert canonical_ip("[fe80::1%eth0]:443") == "fe80::1"


def test_netmask_and_hostmask_forms_are_accepted_like_prefixes():
    assert NetworkSet(["10.0.0.0/255.0.0.0"]).prefixlens == (8,)
    assert NetworkSet(["10.0.0.0/0.255.255.255"]).prefixlens == (8,)


def test_building_and_ipv4_clients_need_neither_ipaddress_nor_typing():
    # The package itself may load them; with both made unimportable afterwards, the
    # module, its IPv4 and IPv6 CIDR checks and IPv4 resolution must still work.
    code = (
        "import sys, daloy_edge\n"
        "sys.modules.update(ipaddress=None, typing=None)\n"
        "sys.modules.pop('daloy_edge._netaddr', None)\n"
        "from daloy_edge._netaddr import NetworkSet, resolve_client\n"
        "trusted = NetworkSet(['10.0.0.0/8', '::1/128', '2001:db8::/32'])\n"
        "assert resolve_client('10.0.0.2', ['203.0.113.5'], trusted) == '203.0.113.5'\n"
        "assert resolve_client('::ffff:198.51.100.7', [], trusted) == '198.51.100.7'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ipv6_clients_are_written_in_canonical_form():
    assert resolve_client("2001:DB8:0:0:0:0:0:0001", [], NetworkSet([])) == "2001:db8::1"


def test_remembered_answers_match_the_first_ones():
    # The second pass is served from the table of recent answers: same results, and the
    # canonical text agrees with ipaddress as well.
    first = [(parse_ip(t), canonical_ip(t)) for t in CASES]
    assert [(parse_ip(t), canonical_ip(t)) for t in CASES] == first
    for text, (address, canonical) in zip(CASES, first, strict=True):
        oracle = _oracle_address(text)
        assert canonical == (None if oracle is None else str(oracle)), text
        assert (address is None) is (oracle is None), text


def test_the_tables_of_recent_answers_stay_bounded():
    for n in range(5 * _netaddr._REMEMBERED_MAX):
        text = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        assert parse_ip(text) == (4, 10 << 24 | n)
        assert canonical_ip(text) == text
    assert 0 < len(_netaddr._PARSED) <= _netaddr._REMEMBERED_MAX
    assert 0 < len(_netaddr._CANONICAL) <= _netaddr._REMEMBERED_MAX


def test_long_texts_are_parsed_but_not_remembered():
    text = "10.0.0.1" + " " * 200
    assert parse_ip(text) == (4, 10 << 24 | 1)
    assert canonical_ip(text) == "10.0.0.1"
    assert text not in _netaddr._PARSED and text not in _netaddr._CANONICAL
