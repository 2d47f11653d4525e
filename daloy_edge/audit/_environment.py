"""The audit of the reference app's environment variables (CONTRACT.md).

A variable left unset is never an error: the contract says the feature then stays
closed (401) or falls back to a safe default. A variable set to an insecure value is.
"""

from __future__ import annotations

from daloy_edge._charset import has_control
from daloy_edge.audit import _rules
from daloy_edge.audit._findings import Finding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["audit_environment"]

_FORWARDING_HEADERS = ("x-forwarded-for", "forwarded")
_UNREAD = "from-secrets-manager"  # stands in for a value the audit cannot read
# The secrets set as comma-separated lists (new,old) of keys or passwords.
LISTED_VARIABLES = ("DALOY_SESSION_KEYS", "DALOY_ADMIN_PASSWORDS", "DALOY_WEBHOOK_SECRETS")


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _encoded(values: list[str]) -> list[bytes]:
    # Bytes the locale could not decode come back as they were set (the app refuses to
    # build on them, naming the variable): strict UTF-8 ended the audit on a traceback.
    return [value.encode("utf-8", "surrogateescape") for value in values]


def audit_environment(env: Mapping[str, str]) -> list[Finding]:
    """Findings for the ``DALOY_*`` variables in ``env``, errors first.

    >>> [f.code for f in audit_environment({"DALOY_CORS_ORIGINS": "*"})]
    ['cors-wildcard-credentials', 'session-keys-missing']
    """
    found = [
        *_environment_mode(env),
        *_rules.cors_origins(
            "DALOY_CORS_ORIGINS", _csv(env.get("DALOY_CORS_ORIGINS")), credentials=True
        ),
        *_json_lists(env),
        *_set_twice(env),
        *_sessions(env),
        *_admin(env),
        *_rules.webhook_secrets(
            "DALOY_WEBHOOK_SECRETS", _encoded(_csv(env.get("DALOY_WEBHOOK_SECRETS")))
        ),
        *_rules.reused_secrets(_secrets(env)),
        *_forwarding(env),
        *_jwt(env),
        *_egress(env),
        *_limits(env),
        *_log_level(env),
        *_rate_limit(env),
    ]
    return sorted(found, key=lambda f: f.severity != "error")


def _secrets(env: Mapping[str, str]) -> dict[str, list[bytes]]:
    """Each secret variable's values, for the check that no value serves two purposes."""
    lists = LISTED_VARIABLES
    found = {name: _encoded(_csv(env.get(name))) for name in lists}
    # One token, not a list: it goes to Upstash as a bearer on every rate-limit check, so
    # the provider, or a log on the way, could sign sessions with a key it equals.
    token = (env.get("DALOY_RATE_LIMIT_TOKEN") or "").strip()
    found["DALOY_RATE_LIMIT_TOKEN"] = _encoded([token] if token else [])
    return found


def _json_lists(env: Mapping[str, str]) -> list[Finding]:
    found = []
    for name in LISTED_VARIABLES:
        if json_document(env.get(name) or ""):
            found.append(
                Finding(
                    "secret-list-json",
                    "error",
                    name,
                    "holds a JSON document, read here as a comma-separated list (keys such as"
                    " '[\"new\"'): the reference app refuses to start",
                    "set new,old; only the Lambda entry reads a JSON list, from Secrets Manager",
                )
            )
    return found


def _set_twice(env: Mapping[str, str]) -> list[Finding]:
    # The Lambda entry refuses a secret given both ways, lest a stale plain value shadow
    # the managed one: the audit judged the plain value and passed what stops the init.
    names = LISTED_VARIABLES
    return [
        Finding(
            "secret-set-twice",
            "error",
            name,
            f"is set and so is {name}_SECRET_ARN: the Lambda entry refuses to start",
            "keep one",
        )
        for name in (*names, "DALOY_RATE_LIMIT_TOKEN")
        if (env.get(name) or "").strip() and _by_arn(env, name)
    ]


def _by_arn(env: Mapping[str, str], name: str) -> bool:
    """Whether ``name`` comes from Secrets Manager (``<name>_SECRET_ARN``, as the Lambda entry
    and ``infra/aws/template.yaml`` pass it): read at a cold start, its value is out of the
    audit's reach, and it is not missing."""
    return bool((env.get(name + "_SECRET_ARN") or "").strip())


def json_document(value: str) -> bool:
    """Whether ``value`` parses as a JSON list or object (what the reference app refuses
    in a secret list), not any value in brackets: a password such as "[Tr0ub4dor]" is no
    JSON, and one a Secrets Manager JSON list held reaches the app from the Lambda entry
    as it is (``["[Tr0ub4dor]"]`` is read as ``[Tr0ub4dor]``)."""
    text = value.strip()
    if not text.startswith(("[", "{")):
        return False
    import json  # only for a value in brackets

    try:
        return isinstance(json.loads(text), list | dict)
    except (ValueError, RecursionError):
        return False


def _production(env: Mapping[str, str]) -> bool:
    return (env.get("DALOY_ENV") or "production") == "production"


def _environment_mode(env: Mapping[str, str]) -> list[Finding]:
    mode = env.get("DALOY_ENV") or "production"
    if mode == "development":
        return [
            Finding(
                "development-mode",
                "error",
                "DALOY_ENV",
                "development mode puts exception text and stack traces into error responses",
                "set DALOY_ENV=production (or leave it unset) everywhere but your own machine",
            )
        ]
    if mode != "production":
        return [
            Finding(
                "environment-invalid",
                "error",
                "DALOY_ENV",
                f"{mode!r} is neither 'production' nor 'development'",
                "set DALOY_ENV=production",
            )
        ]
    return []


def _sessions(env: Mapping[str, str]) -> list[Finding]:
    keys = _csv(env.get("DALOY_SESSION_KEYS"))
    if not keys and _production(env) and not _by_arn(env, "DALOY_SESSION_KEYS"):
        return [
            Finding(
                "session-keys-missing",
                "warning",
                "DALOY_SESSION_KEYS",
                "not set, so every process signs sessions with its own random key: users "
                "are signed out on every cold start and between instances",
                "store one or more random keys of at least 32 bytes in your secret manager "
                "and pass them as DALOY_SESSION_KEYS",
            )
        ]
    return _rules.session_keys("DALOY_SESSION_KEYS", _encoded(keys))


def _admin(env: Mapping[str, str]) -> list[Finding]:
    user = env.get("DALOY_ADMIN_USER", "").strip()
    passwords = _csv(env.get("DALOY_ADMIN_PASSWORDS"))
    found = _rules.admin_passwords("DALOY_ADMIN_PASSWORDS", user, _encoded(passwords))
    given = bool(passwords) or _by_arn(env, "DALOY_ADMIN_PASSWORDS")
    if bool(user) != given:
        missing = "DALOY_ADMIN_PASSWORDS" if user else "DALOY_ADMIN_USER"
        found.append(
            Finding(
                "admin-half-configured",
                "warning",
                missing,
                "not set while its partner is, so /admin stays closed (401)",
                "set both DALOY_ADMIN_USER and DALOY_ADMIN_PASSWORDS, or neither",
            )
        )
    if user and given and (":" in user or has_control(user)):
        found.append(
            Finding(
                "admin-user-invalid",
                "error",
                "DALOY_ADMIN_USER",
                "contains ':' or a control character, which basic auth cannot carry: the "
                "reference app refuses to start",
                "choose a user name of letters, digits and punctuation other than ':'",
            )
        )
    found += _admin_cidrs(env.get("DALOY_ADMIN_CIDRS", ""))
    return found


def _admin_cidrs(value: str) -> list[Finding]:
    if value and not _csv(value):
        return [
            Finding(
                "admin-cidrs-invalid",
                "error",
                "DALOY_ADMIN_CIDRS",
                "names no network (blank, or only commas)",
                "list the networks allowed into /admin, or leave it unset for loopback only",
            )
        ]
    for cidr in _csv(value):
        from ipaddress import ip_network

        try:
            network = _rules.network_as_read(ip_network(cidr, strict=True))
        except ValueError:
            return [
                Finding(
                    "admin-cidrs-invalid",
                    "error",
                    "DALOY_ADMIN_CIDRS",
                    f"{cidr!r} is not a network",
                    "write CIDRs with zero host bits, e.g. 10.20.0.0/16",
                )
            ]
        if _rules.too_broad(network):
            # Split in halves (0.0.0.0/1,128.0.0.0/1), every address is as open as /0.
            admits = "every address" if network.prefixlen == 0 else "a large part of the internet"
            return [
                Finding(
                    "admin-open",
                    "warning",
                    "DALOY_ADMIN_CIDRS",
                    f"{cidr} admits {admits}, so only the password guards /admin",
                    "list the networks your administrators connect from (VPN, office)",
                )
            ]
    return []


def _forwarding(env: Mapping[str, str]) -> list[Finding]:
    found = _rules.trusted_proxies("DALOY_TRUSTED_PROXIES", _csv(env.get("DALOY_TRUSTED_PROXIES")))
    header = env.get("DALOY_FORWARDED_HEADER", "")
    if header and header not in _FORWARDING_HEADERS:
        found.append(
            Finding(
                "forwarded-header-invalid",
                "error",
                "DALOY_FORWARDED_HEADER",
                f"{header!r} is not a forwarding header the app can read",
                "set it to the one header your proxies append to: x-forwarded-for or forwarded",
            )
        )
    return found


def _jwt(env: Mapping[str, str]) -> list[Finding]:
    # Read as the app reads them: without the line break a secrets file leaves behind.
    url, path = env.get("DALOY_JWKS_URL", "").strip(), env.get("DALOY_JWKS_FILE", "")
    issuer, audience = env.get("DALOY_JWT_ISSUER", "").strip(), env.get("DALOY_JWT_AUDIENCE", "")
    found: list[Finding] = []
    if url and path:
        found.append(
            Finding(
                "jwks-ambiguous",
                "error",
                "DALOY_JWKS_URL and DALOY_JWKS_FILE",
                "both are set, so which keys verify tokens is unclear",
                "keep DALOY_JWKS_URL (your identity provider) and remove DALOY_JWKS_FILE",
            )
        )
    if url:
        found += _jwks_url(url)
    if audience and not _csv(audience):
        found.append(
            Finding(
                "jwt-audience-invalid",
                "error",
                "DALOY_JWT_AUDIENCE",
                "names no audience (blank, or only commas): the reference app refuses to start",
                "set it to the 'aud' your identity provider puts in tokens for this API",
            )
        )
    if url or path:
        found += [
            _unpinned(name, claim)
            for name, claim, value in (
                ("DALOY_JWT_ISSUER", "iss", issuer),
                ("DALOY_JWT_AUDIENCE", "aud", audience),
            )
            if not value
        ]
    elif issuer or audience:
        found.append(
            Finding(
                "jwt-keys-missing",
                "warning",
                "DALOY_JWKS_URL",
                "not set while the issuer or audience is, so /api stays closed (401)",
                "set DALOY_JWKS_URL to your identity provider's JWKS URL",
            )
        )
    return found


def _jwks_url(url: str) -> list[Finding]:
    if not url.lower().startswith("https://"):
        return [
            Finding(
                "jwks-insecure-url",
                "error",
                "DALOY_JWKS_URL",
                "the URL is not https://, so anyone on the path can swap in their own signing keys",
                "use the identity provider's https:// JWKS URL",
            )
        ]
    from daloy_edge._errors import ConfigError
    from daloy_edge.jose._jwks_client import _check_url

    try:
        _check_url(url, allow_insecure_http=False)  # what the app's JWKSClient checks
    except ConfigError as exc:
        return [
            Finding(
                "jwks-url-invalid",
                "error",
                "DALOY_JWKS_URL",
                f"{exc}: the reference app refuses to start",
                "use the identity provider's JWKS URL as it documents it: https, a host, "
                "no credentials or fragment",
            )
        ]
    return []


def _unpinned(name: str, claim: str) -> Finding:
    return Finding(
        "jwt-issuer-missing" if claim == "iss" else "jwt-audience-missing",
        "warning",
        name,
        f"not set while a JWKS is, so /api stays closed (401): without a pinned '{claim}' "
        "a token the identity provider issued for another API would be accepted",
        f"set {name} to the exact '{claim}' your identity provider puts in tokens for this API",
    )


def _egress(env: Mapping[str, str]) -> list[Finding]:
    found = _egress_hosts(env.get("DALOY_EGRESS_ALLOW_HOSTS", ""))
    cidrs = tuple(_csv(env.get("DALOY_EGRESS_ALLOW_CIDRS")))
    if cidrs:
        found += [_EGRESS_CIDRS_OPENED, *_egress_entries("DALOY_EGRESS_ALLOW_CIDRS", cidrs=cidrs)]
    return found


def _egress_hosts(value: str) -> list[Finding]:
    hosts = tuple(_csv(value))
    if hosts:
        return _egress_entries("DALOY_EGRESS_ALLOW_HOSTS", hosts=hosts)
    if value:
        return [
            Finding(
                "egress-hosts-invalid",
                "error",
                "DALOY_EGRESS_ALLOW_HOSTS",
                "names no host (blank, or only commas), and an empty list would let /fetch "
                "reach any public host",
                "list the host names /fetch may reach, or leave it unset",
            )
        ]
    return []


def _egress_entries(
    name: str, *, hosts: tuple[str, ...] = (), cidrs: tuple[str, ...] = ()
) -> list[Finding]:
    from daloy_edge._errors import ConfigError
    from daloy_edge.egress import EgressPolicy

    try:
        EgressPolicy(allow_hosts=hosts, allow_cidrs=cidrs)  # what the app's guard checks
    except ConfigError as exc:
        return [
            Finding(
                "egress-invalid",
                "error",
                name,
                f"{exc}: the reference app refuses to start",
                "write hosts as api.example.com or *.example.com (no scheme, port, path or "
                "trailing dot) and networks as CIDRs with zero host bits",
            )
        ]
    return []


_EGRESS_CIDRS_OPENED = Finding(
    "egress-cidrs-opened",
    "warning",
    "DALOY_EGRESS_ALLOW_CIDRS",
    "opens otherwise denied (private, loopback, metadata) ranges to /fetch; it exists for tests",
    "remove it in production; list the public host names /fetch may reach in "
    "DALOY_EGRESS_ALLOW_HOSTS instead",
)


def _limits(env: Mapping[str, str]) -> list[Finding]:
    found: list[Finding] = []
    for name in ("DALOY_REQUEST_TIMEOUT_MS", "DALOY_MAX_BODY_BYTES"):
        value = env.get(name, "")
        value = value.strip()
        # Nine digits at most (checked before int(), which raises past 4300 digits).
        if value and not (
            value.isascii() and value.isdigit() and len(value) <= 9 and int(value) > 0
        ):
            found.append(
                Finding(
                    "limit-invalid",
                    "error",
                    name,
                    f"{value[:40]!r} is not a positive whole number of at most nine digits",
                    f"set {name} to a positive integer or leave it unset for the default",
                )
            )
    return found


def _log_level(env: Mapping[str, str]) -> list[Finding]:
    from daloy_edge._errors import ConfigError
    from daloy_edge.observability import LogConfig

    try:
        LogConfig.from_env(env)  # what every App reads at build time
    except ConfigError:
        level = env.get("DALOY_LOG_LEVEL", "").strip()
        return [
            Finding(
                "log-level-invalid",
                "error",
                "DALOY_LOG_LEVEL",
                f"{level[:40]!r} is not a log level: the app refuses to start",
                "set it to one of TRACE, DEBUG, INFO, WARN, ERROR or FATAL, or leave it unset",
            )
        ]
    return []


def _rate_limit(env: Mapping[str, str]) -> list[Finding]:
    url = env.get("DALOY_RATE_LIMIT_URL", "")
    token = env.get("DALOY_RATE_LIMIT_TOKEN", "")
    if not token and _by_arn(env, "DALOY_RATE_LIMIT_TOKEN"):
        token = _UNREAD  # the URL is still checked
    if not url and not token:
        return []
    if not url or not token:
        missing = "DALOY_RATE_LIMIT_TOKEN" if url else "DALOY_RATE_LIMIT_URL"
        return [
            Finding(
                "rate-limit-half-configured",
                "error",
                missing,
                "not set while its partner is: the reference app refuses to start",
                "set both DALOY_RATE_LIMIT_URL and DALOY_RATE_LIMIT_TOKEN, or neither "
                "(then each instance counts in memory)",
            )
        ]
    from daloy_edge._errors import ConfigError
    from daloy_edge.ratelimit.upstash import UpstashREST

    try:
        UpstashREST(url, token)  # checks the URL and the token's form; sends nothing
    except ConfigError as exc:
        # The client's messages name what is wrong, never the token itself.
        return [
            Finding(
                "rate-limit-invalid",
                "error",
                "DALOY_RATE_LIMIT_URL or DALOY_RATE_LIMIT_TOKEN",
                str(exc),
                "the Upstash REST URL (https, or http to loopback) and its token, "
                "without surrounding whitespace",
            )
        ]
    return []
