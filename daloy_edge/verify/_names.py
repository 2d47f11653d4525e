"""What an identifier says about its value: secret material, metadata about it, or neither."""

from __future__ import annotations

import itertools
import re

__all__ = ["is_secret_name", "is_unique_value_name", "words"]

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

SECRET_WORDS = frozenset(
    {
        "secret", "secrets", "token", "tokens", "signature", "signatures", "sig", "sigs",
        "password", "passwords", "passwd", "pwd", "passphrase", "digest", "digests",
        "mac", "macs", "hmac", "csrf", "xsrf", "cookie", "cookies", "credential",
        "credentials", "creds", "authorization", "auth", "apikey", "otp",
    }
)  # fmt: skip
# Plural too: API_KEYS, a rotation list, holds keys as much as API_KEY holds one.
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"), ("private", "key"), ("signing", "key"),
        ("api", "keys"), ("private", "keys"), ("signing", "keys"),
    }
)  # fmt: skip

# A last word like these makes the name describe the secret rather than hold it:
# token_type, signature_header, password_min_length, cookie_name, csrf_field.
METADATA_WORDS = frozenset(
    {
        "type", "types", "kind", "name", "names", "len", "length", "size", "count",
        "prefix", "suffix", "url", "uri", "urls", "endpoint", "header", "headers", "field",
        "fields", "param", "params", "format", "fmt", "alg", "algs", "algorithm",
        "algorithms", "scheme", "schemes", "version", "ttl", "age", "expiry", "expires",
        "exp", "lifetime", "path", "domain", "attr", "attribute", "attributes", "policy",
        "options", "opts", "config", "cfg", "settings", "class", "cls", "factory", "store",
        "backend", "provider", "loader", "parser", "pattern", "patterns", "re", "regex",
        "env", "var", "file", "filename", "source", "location", "id", "ids", "arn", "spec",
        "mode", "style", "encoding", "ms", "seconds", "secs", "timeout", "delay", "limit",
        "max", "min", "index", "idx", "pos", "start", "end", "address", "addr", "valid",
        "ok", "required", "enabled", "present", "error", "errors", "exc", "exception",
        "label", "description", "doc", "help", "kid", "bits", "bytes", "nbytes", "octets",
        "chars", "mod",
    }
)  # fmt: skip
# A first word like these makes it a flag or a number: is_token_valid, max_token_age.
_PREDICATE_WORDS = frozenset(
    {
        "is", "has", "should", "use", "uses", "allow", "allows", "require", "requires",
        "enable", "no", "can", "needs", "verify", "validate", "check", "min", "max", "num",
        "n", "len", "count", "total",
    }
)  # fmt: skip

UNIQUE_VALUE_WORDS = frozenset(
    {
        "token", "tokens", "nonce", "nonces", "id", "ids", "key", "keys", "secret",
        "secrets", "salt", "password", "passwd", "pwd", "passphrase", "session", "sid",
        "csrf", "xsrf", "otp", "pin", "iv", "uuid", "guid", "jti", "apikey", "ident",
        "identifier", "credential", "credentials", "cookie",
    }
)  # fmt: skip


def words(identifier: str) -> list[str]:
    """Lower-case words of an identifier or header name: ``X-Hub-Signature-256`` ->
    ``["x", "hub", "signature", "256"]``."""
    return [w.lower() for w in _WORD.findall(identifier)]


def _has_secret_word(ws: list[str]) -> bool:
    if any(w in SECRET_WORDS for w in ws):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(ws))


def is_secret_name(identifier: str) -> bool:
    """True when a name or key most likely holds secret material (a token, a signature,
    a password, a cookie or an Authorization value), not a fact about one."""
    ws = words(identifier)
    significant = [w for w in ws if not w.isdigit()]
    if not significant or significant[0] in _PREDICATE_WORDS:
        return False
    if len(significant) > 1 and significant[-1] in METADATA_WORDS:
        return False
    return _has_secret_word(significant)


def is_unique_value_name(identifier: str) -> bool:
    """True when a name holds a value that must be unguessable: a token, nonce, id or key."""
    ws = words(identifier)
    if ws and ws[0] in _PREDICATE_WORDS:
        return False
    return any(w in UNIQUE_VALUE_WORDS for w in ws)
