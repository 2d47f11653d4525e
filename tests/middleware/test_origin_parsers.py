"""Origin, CORS pattern and header name checks against the regexes they replaced."""

from __future__ import annotations

import random
import re

import pytest

from daloy_edge import ConfigError
from daloy_edge.middleware._origins import normalize_origin
from daloy_edge.middleware.cors import CORS, CORSConfig

OLD_ORIGIN = re.compile(r"^(https?)://([a-z0-9.\-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$")
OLD_PATTERN = re.compile(r"^(https?)://\*\.([a-z0-9\-]+(?:\.[a-z0-9\-]+)+)(?::([0-9]{1,5}))?$")
OLD_FIELD_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
DEFAULT_PORTS = {"http": "80", "https": "443"}

SCHEMES = ["https://", "http://", "HTTPS://", "Http://", "ftp://", "https:/", "https//", ""]
SCHEMES += ["https://*.", "http://*.", "https://*", "https://**.", " https://", "\nhttp://"]
PIECES = ["a", "Z", "k", "0", "9", ".", "-", "[", "]", ":", "::1", "f", "g", "é", "\u212a"]
PIECES += ["İ", "_", "\n", " ", "\t", "/", "%", "*", "١", "²", "\x00", "\x85", "example", "com"]
TAILS = ["", "", "", ":", ":443", ":80", ":8443", ":0", ":123456", ":12a", ":١", "\n", " ", "/"]


LABELS = ["a", "example", "com", "-", "a-b", "", "A", "é", "_", "9", "[::1]", "[0:a.1]", "*"]


def _candidates(seed: int, count: int = 6000, schemes: list[str] = SCHEMES) -> list[str]:
    """Random pieces, and (one in two) dot-separated labels, after a scheme."""
    rng = random.Random(seed)
    found = []
    for i in range(count):
        if i % 2:
            labels = rng.choices(LABELS, k=rng.randint(1, 4))
            body = rng.choice([".", ".", ".", "..", ":"]).join(labels)
        else:
            body = "".join(rng.choices(PIECES, k=rng.randint(0, 6)))
        found.append(rng.choice(schemes) + body + rng.choice(TAILS) + rng.choice(TAILS))
    return found


EDGES = [
    "https://example.com",
    "https://example.com:443",
    "http://example.com:80",
    "http://example.com:443",
    "https://[::1]",
    "https://[::1]:8443",
    "https://[::1]:443",
    "https://[]",
    "https://[::1]]",
    "https://[::1]x",
    "https://[::1:",
    "https://[::g]",
    "https://...",
    "https://-",
    "https://a:",
    "https://a:00000",
    "https://a:000000",
    "https://a:0443",
    "https://a:65535",
    "https://a:65536",
    "https://a:99999",
    "http://*.a.b:0",
    "http://*.a.b:65536",
    "https://a:1:2",
    "https://",
    "https",
    "http",
    "https://a\n",
    "HTTPS://EXAMPLE.COM:443",
    "https://\u212aelvin.example",
    "https://*.example.com",
    "https://*.\u212aiosk.example",
    "https://*.example.com\n",
    "https://*.example.com:8443",
    "https://*.example.com:8443\n",
    "https://*.com",
    "https://*.-.-",
    "https://*..com",
    "https://*.a.b:",
    "http://*.a.b:1",
]


def _browser_port(port: str) -> bool:
    # Browsers serialise a port as 1-65535 without leading zeros; the regex took any digits.
    return port[0] != "0" and int(port) <= 65535


def old_normalize(value: str) -> str | None:
    # The regex ran on the lower-cased text, where the Kelvin sign had become "k"; only
    # ASCII origins are accepted now.
    if not value.isascii():
        return None
    match = OLD_ORIGIN.match(value.strip().lower())
    if match is None:
        return None
    scheme, host, port = match.groups()
    if port is not None and not _browser_port(port):
        return None
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_normalize_origin_agrees_with_the_former_regex(seed: int) -> None:
    for value in [*_candidates(seed), *EDGES]:
        assert normalize_origin(value) == old_normalize(value), repr(value)


def _pattern_accepted(pattern: str) -> bool:
    try:
        CORSConfig(allow_origin_patterns=(pattern,))
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("seed", [4, 5])
def test_cors_patterns_accepted_as_before_but_no_trailing_newline(seed: int) -> None:
    schemes = ["https://*.", "http://*.", "HTTPS://*.", "https://*.", "https://*", "ftp://*."]
    for pattern in [*_candidates(seed), *_candidates(seed, schemes=schemes), *EDGES]:
        # The regex ran on the lower-cased text, where the Kelvin sign had become "k";
        # only ASCII patterns are accepted now.
        match = OLD_PATTERN.match(pattern.lower())
        port = match and match.group(3)
        expected = (
            match is not None
            and pattern.isascii()
            and not pattern.endswith("\n")
            and (port is None or _browser_port(port))
        )
        assert _pattern_accepted(pattern) is expected, repr(pattern)


def old_pattern_regex(pattern: str) -> re.Pattern[str]:
    match = OLD_PATTERN.match(pattern.lower())
    assert match is not None
    scheme, domain, port = match.groups()
    suffix = f":{port}" if port else ""
    label = r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?"
    return re.compile(rf"^{scheme}://{label}\.{re.escape(domain + suffix)}$")


PATTERNS = ("https://*.tenants.example", "http://*.a-b.example:8080", "https://*.x.y.z")


def _origins(seed: int, count: int = 6000) -> list[str]:
    rng = random.Random(seed)
    hosts = ["tenants.example", "a-b.example", "x.y.z", "y.z", "example", ""]
    labels = ["acme", "a", "-a", "a-", "a-b", "9", "", "a.b", "A", "[::1]", "é", "a_b", "*"]
    ports = ["", "", ":8080", ":443", ":80", ":8443", "\n", "/"]
    found = []
    for _ in range(count):
        scheme = rng.choice(["https://", "http://", "HTTPS://", "ftp://"])
        label = rng.choice(labels)
        dot = rng.choice([".", ".", ""])
        found.append(scheme + label + dot + rng.choice(hosts) + rng.choice(ports))
    return found


@pytest.mark.parametrize("seed", [6, 7])
def test_cors_wildcard_origins_agree_with_the_former_regexes(seed: int) -> None:
    exact = ("https://app.example",)
    cors = CORS(CORSConfig(allow_origins=exact, allow_origin_patterns=PATTERNS))
    regexes = [old_pattern_regex(p) for p in PATTERNS]

    def old_allowed(origin: str) -> bool:
        if origin in exact:
            return True
        normalized = old_normalize(origin)
        if normalized is None or normalized != origin.lower():
            return False
        return normalized in exact or any(r.match(normalized) for r in regexes)

    for origin in [*_origins(seed), *_candidates(seed, 2000)]:
        assert cors.allowed(origin) is old_allowed(origin), repr(origin)


@pytest.mark.parametrize("seed", [8, 9])
def test_header_and_method_names_accepted_as_before_but_no_trailing_newline(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "aZ09-_!#$%&'*+.^`|~\"(),/:;<=>?@[\\]{} \t\n\r\x00\x7fé"
    names = ["".join(rng.choices(alphabet, k=rng.randint(1, 8))) for _ in range(3000)]
    for name in [*names, "x-token\n", "content-type"]:
        if name == "*":  # refused on its own: CORS lists are explicit
            continue
        expected = OLD_FIELD_NAME.match(name) is not None and not name.endswith("\n")
        try:
            CORSConfig(allow_headers=(name,))
        except ConfigError:
            accepted = False
        else:
            accepted = True
        assert accepted is expected, repr(name)
