"""Rules shared by the environment and the application audits: plain values in, findings out."""

from __future__ import annotations

from daloy_edge.audit._findings import Finding
from daloy_edge.audit._weak import weakness
from daloy_edge.middleware._origins import normalize_origin
from daloy_edge.signing import MIN_KEY_BYTES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from ipaddress import IPv4Network, IPv6Network

__all__ = [
    "MIN_ADMIN_PASSWORD_CHARS",
    "MIN_WEBHOOK_SECRET_BYTES",
    "admin_passwords",
    "cors_origins",
    "network_as_read",
    "reused_secrets",
    "session_keys",
    "too_broad",
    "trusted_proxies",
    "webhook_secrets",
]

MIN_WEBHOOK_SECRET_BYTES = 16
MIN_ADMIN_PASSWORD_CHARS = 12
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_GENERATE = 'generate one with `python -c "import secrets; print(secrets.token_urlsafe(48))"`'
_BROADEST_PUBLIC = {4: 8, 6: 16}


def _nth(index: int, total: int) -> str:
    return f"entry {index + 1} of {total}"


def cors_origins(subject: str, origins: Sequence[str], *, credentials: bool) -> list[Finding]:
    """Wildcards, ``null``, malformed and plain-HTTP origins in a CORS allow-list."""
    found: list[Finding] = []
    for origin in origins:
        if origin == "*":
            if credentials:
                found.append(_cors_wildcard_credentials(subject))
            else:
                found.append(
                    Finding(
                        "cors-wildcard",
                        "warning",
                        subject,
                        "'*' lets every web site read these responses",
                        "allow '*' only for public, unauthenticated data; otherwise list "
                        "the exact origins",
                    )
                )
        elif origin.lower() == "null":
            found.append(
                Finding(
                    "cors-null-origin",
                    "error",
                    subject,
                    "'null' is the origin of sandboxed frames and local files, which any "
                    "attacker can create",
                    "remove 'null' and list real https:// origins",
                )
            )
        elif normalize_origin(origin) is None:
            found.append(
                Finding(
                    "cors-invalid-origin",
                    "error",
                    subject,
                    f"{origin!r} is not an origin",
                    "write each origin as scheme://host[:port], without a path, "
                    "e.g. https://app.example.com",
                )
            )
        elif credentials and _plain_http(origin):
            found.append(
                Finding(
                    "cors-insecure-origin",
                    "error",
                    subject,
                    f"{origin!r} is plain HTTP: anyone on its network path can inject script "
                    "there and read signed-in users' responses",
                    "serve that front end over HTTPS and allow its https:// origin",
                )
            )
    return found


def _cors_wildcard_credentials(subject: str) -> Finding:
    return Finding(
        "cors-wildcard-credentials",
        "error",
        subject,
        "'*' together with credentials would let any web site act as a signed-in user",
        "list the exact origins that may call the API, e.g. https://app.example.com",
    )


def _plain_http(origin: str) -> bool:
    normalized = normalize_origin(origin) or ""
    if not normalized.startswith("http://"):
        return False
    rest = normalized.removeprefix("http://")
    host = rest[: rest.find("]") + 1] if rest.startswith("[") else rest.split(":", 1)[0]
    return host not in _LOOPBACK_HOSTS


def _secret_findings(
    subject: str, values: Sequence[bytes], *, kind: str, min_bytes: int, fix: str
) -> list[Finding]:
    found: list[Finding] = []
    for index, value in enumerate(values):
        problem = weakness(value, min_bytes=min_bytes)
        if problem is not None:
            label, reason = problem
            found.append(
                Finding(
                    f"{kind}-{label}",
                    "error",
                    subject,
                    f"{_nth(index, len(values))} {reason}",
                    fix,
                )
            )
    if len(values) > 1 and _has_duplicates(values):
        found.append(
            Finding(
                f"{kind}-duplicate",
                "warning",
                subject,
                "the same value is listed twice",
                "list each value once (the first signs, the rest only verify)",
            )
        )
    return found


def _same(a: bytes, b: bytes) -> bool:
    # Values of different lengths differ (and the audit reports lengths anyway), so only
    # equal-length pairs need the constant-time comparison, and with it ``hmac``.
    if len(a) != len(b):
        return False
    import hmac

    return hmac.compare_digest(a, b)


def _has_duplicates(values: Sequence[bytes]) -> bool:
    return any(_same(a, b) for i, a in enumerate(values) for b in values[i + 1 :])


def session_keys(subject: str, keys: Sequence[bytes]) -> list[Finding]:
    """Session and CSRF signing keys: at least 32 random bytes each."""
    return _secret_findings(
        subject,
        keys,
        kind="session-key",
        min_bytes=MIN_KEY_BYTES,
        fix=f"use keys of at least {MIN_KEY_BYTES} random bytes from a secret manager; "
        + _GENERATE,
    )


def webhook_secrets(subject: str, secrets: Sequence[bytes]) -> list[Finding]:
    """Webhook HMAC secrets: at least 16 random bytes each (offline guessing)."""
    return _secret_findings(
        subject,
        secrets,
        kind="webhook-secret",
        min_bytes=MIN_WEBHOOK_SECRET_BYTES,
        fix="use a random secret of at least 32 bytes, set on both sides (the sender's "
        "dashboard and here); " + _GENERATE,
    )


def admin_passwords(subject: str, user: str, passwords: Sequence[bytes]) -> list[Finding]:
    """Basic-auth passwords: long, not a default, not the user name."""
    fix = (
        f"use random passwords of at least {MIN_ADMIN_PASSWORD_CHARS} characters (24 or more "
        "is better) from a secret manager; " + _GENERATE
    )
    found = _secret_findings(
        subject, passwords, kind="admin-password", min_bytes=MIN_ADMIN_PASSWORD_CHARS, fix=fix
    )
    name = user.strip().lower().encode("utf-8", "surrogateescape")
    for index, password in enumerate(passwords):
        if name and _same(password.strip().lower(), name):
            found.append(
                Finding(
                    "admin-password-weak",
                    "error",
                    subject,
                    f"{_nth(index, len(passwords))} is the user name",
                    fix,
                )
            )
    return found


def reused_secrets(groups: Mapping[str, Sequence[bytes]]) -> list[Finding]:
    """A value used for two purposes (a session key that is also a webhook secret lets
    the webhook sender forge sessions)."""
    found: list[Finding] = []
    names = sorted(groups)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if any(_same(a, b) for a in groups[first] for b in groups[second]):
                found.append(
                    Finding(
                        "secret-reused",
                        "error",
                        f"{first} and {second}",
                        "share a value, so whoever knows one can forge the other",
                        "give every purpose its own random secret",
                    )
                )
    return found


def trusted_proxies(subject: str, cidrs: Sequence[str]) -> list[Finding]:
    """Forwarding headers believed from everyone, or from huge public ranges."""
    found: list[Finding] = []
    for cidr in cidrs:
        from ipaddress import ip_network

        try:
            network = network_as_read(ip_network(cidr.strip(), strict=True))
        except ValueError:
            found.append(
                Finding(
                    "proxies-invalid",
                    "error",
                    subject,
                    f"{cidr!r} is not a network",
                    "write CIDRs with zero host bits, e.g. 10.0.0.0/8 or 2001:db8::/32",
                )
            )
            continue
        if too_broad(network):
            found.append(
                Finding(
                    "proxies-everyone",
                    "error",
                    subject,
                    f"{cidr} trusts X-Forwarded-For/Forwarded from a large part of the "
                    "internet, so clients there can choose their own address (and dodge "
                    "rate limits and IP allow-lists)",
                    "list only the networks of the proxies and load balancers you run "
                    "(leave it empty when clients connect directly)",
                )
            )
    return found


def network_as_read(network: IPv4Network | IPv6Network) -> IPv4Network | IPv6Network:
    """``network`` as the app matches clients against it: an IPv4-mapped network of /96 or
    longer is the IPv4 network it maps (``::ffff:0.0.0.0/97`` is ``0.0.0.0/1``)."""
    mapped = network.network_address.ipv4_mapped if network.version == 6 else None
    if mapped is None or network.prefixlen < 96:
        return network
    from ipaddress import IPv4Network

    return IPv4Network((mapped, network.prefixlen - 96))


def too_broad(network: IPv4Network | IPv6Network) -> bool:
    """True for ``/0``, or a public network broader than /8 (IPv4) or /16 (IPv6)."""
    if network.prefixlen == 0:
        return True
    return network.prefixlen < _BROADEST_PUBLIC[network.version] and not network.is_private
