"""Redaction: walks any object graph and returns a JSON value with secrets removed.

Three rules apply everywhere: a value under a secret-shaped key is replaced whatever its
type; a :class:`~daloy_edge.Secret` or :class:`~daloy_edge.KeyRing` is replaced by type;
strings are scrubbed of credentials that appear inline (``Authorization: …``, ``Bearer …``,
JWTs, ``password=…``, ``sig=…``, every ``Cookie:`` pair, ``https://user:pass@host``, AWS
access key ids).
"""

from __future__ import annotations

import sys
from _collections_abc import Mapping  # collections.abc would import collections

from daloy_edge._headers import Headers
from daloy_edge._json import string_ascii
from daloy_edge._lazy import LazyPattern
from daloy_edge._secrets import KeyRing, Secret

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from re import Match, Pattern

    from daloy_edge.types import JSON

__all__ = ["DEFAULT_SECRET_KEYS", "REDACTED", "Redactor", "redact", "scrub_text"]

REDACTED = "[REDACTED]"
"""What a removed value is replaced with."""

DEFAULT_SECRET_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "privatekey",
    "client_secret",
    "session",
    "credential",
    "authorization",
    "cookie",
    "signature",
    "jwt",
    "bearer",
    "access_key",
    "accesskey",
    "csrf",
    "xsrf",
)
"""Key fragments that mark a value as secret, matched anywhere in a normalised key."""

# Short names are secret as a whole word of a key (``db_pwd``, ``stripeKey``, ``x-auth-key``)
# but not inside one (``keyboard``, ``passenger``, ``author``), nor when a last word says
# the value only describes the secret (``key_id``, ``auth_type``).
_SECRET_KEY_WORDS = frozenset(
    {"key", "pass", "pwd", "pin", "otp", "sig", "mac", "salt", "auth", "authentication", "passcode"}
)
_DESCRIPTIVE_WORDS = frozenset({"id", "ids", "count", "type", "name", "length", "size", "version"})
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
_SECRET_HEADER_FRAGMENTS = ("signature", "token")
_KEY_CACHE_LIMIT = 2048
_LITERAL_MAX_LEN = 256
_LITERALS_KEPT = 256
_MAX_INT_BITS = 256
_CUT_MARGIN = 4096
_CUT_GUARD = 2048

# Every repetition below is bounded or possessive, so scrubbing stays linear in the
# length of attacker-controlled text (no catastrophic backtracking). The patterns are
# compiled on first use: most requests never need one, and ``re`` and the compiling
# would cost every cold start.

# Credentials after an auth scheme: ``k=v, k="v"`` parameters (Digest) or one token.
_PARAM = (
    r"[A-Za-z0-9!#$%&*+.^_`|~\-]{1,64}+\s{0,8}+=\s{0,8}+"
    r"(?:\"[^\"\r\n]{0,512}+\"?|[^\s,\"]{0,512}+)"
)
_PARAMS = rf"{_PARAM}(?:\s{{0,8}}+,\s{{0,8}}+{_PARAM}){{0,32}}+"
_SCHEME = LazyPattern(
    rf"(?i)\b(bearer|basic|digest|negotiate)\s{{1,8}}+(?:{_PARAMS}|[A-Za-z0-9._~+/=\-]{{4,}}+)"
)
# Any scheme (``token``, ``ApiKey`` ...) or a bare credential, the scheme included.
_AUTHORIZATION = LazyPattern(
    r"(?i)\b((?:proxy-)?authorization[\"']?\s{0,8}+[:=]\s{0,8}+)[^\s\"',;]++"
    rf"(?:[ \t]{{1,8}}+(?:{_PARAMS}|[A-Za-z0-9._~+/=\-]++))?+"
)
# Every pair of a ``Cookie`` or ``Set-Cookie`` header, not only the first.
_COOKIE = LazyPattern(
    r"(?i)\b((?:set-)?cookie[\"']?\s{0,8}+[:=]\s{0,8}+)[^\s\"',;]++(?:;[ \t]{0,8}+[^\s\"',;]++)*+"
)
_JWT = LazyPattern(r"\beyJ[A-Za-z0-9_\-]{4,}+\.[A-Za-z0-9_\-]{4,}+(?:\.[A-Za-z0-9_\-]*+)?")
# The user may be empty (``redis://:pass@host``); the password runs to the last ``@``. No
# ``\b``: a scheme glued to the word before it (``xxhttps://``) is still a scheme.
_URL_USERINFO = LazyPattern(
    r"(?i)([a-z][a-z0-9+.\-]{0,15}+://[^\s:/@]{0,128}+:)(?:[^\s@/]{0,256}+@){1,4}+"
)
_AWS_KEY_ID = LazyPattern(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
_PEM_KEY = LazyPattern(
    r"(?s)-----BEGIN (?:[A-Z]{1,12} ){0,3}PRIVATE KEY-----.*?"
    r"(?:-----END (?:[A-Z]{1,12} ){0,3}PRIVATE KEY-----|$)"
)


class _InlineRule:
    """``key=value`` scrubbing for one key list, with cheap substring triggers first.

    Both patterns are compiled when first needed: the key alternation is the most
    expensive pattern here, and many processes never see a string that needs it.
    """

    __slots__ = ("_fragments", "_pattern", "_triggers")

    def __init__(self, fragments: Iterable[str]) -> None:
        self._fragments = tuple(fragments)
        self._pattern: Pattern[str] | None = None
        self._triggers: Pattern[str] | None = None

    def triggers(self) -> Pattern[str]:
        """Matches any secret fragment in lower-cased text (a cheap pre-check)."""
        if self._triggers is None:
            import re

            # Each fragment's longest part appears in every spelling (api_key, api-key, apikey).
            parts = sorted({max(f.split("_"), key=len) for f in self._fragments})
            self._triggers = re.compile("|".join(re.escape(p) for p in parts))
        return self._triggers

    def pattern(self) -> Pattern[str]:
        """Matches ``key=value`` (or ``"key": "value"``) with a secret-shaped key."""
        if self._pattern is None:
            import re

            names = "|".join(re.escape(f).replace("_", "[_\\-]?") for f in self._fragments)
            # The key is matched from its secret fragment on (what precedes it stays as it
            # is), then the separator, an optional quote, and the value that gets replaced.
            self._pattern = re.compile(
                rf"(?i)(?P<key>(?:{names})[A-Za-z0-9_.\-]{{0,32}}+)(?P<q1>[\"']?)"
                r"(?P<sep>\s{0,8}+[:=]\s{0,8}+)(?P<q2>[\"'])?"
                r"(?P<value>(?(q2)[^\"'\r\n]{1,512}+|(?!\[REDACTED\])[^\s\"',;&}\]]++))"
            )
        return self._pattern


_DEFAULT_INLINE = _InlineRule(DEFAULT_SECRET_KEYS)
_WORD_TRIGGERS = LazyPattern("|".join(sorted(_SECRET_KEY_WORDS)))
_KEY_SEPARATOR = LazyPattern(
    r"(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]{1,64}+)([\"']?)\s{0,8}+([:=])\s{0,8}+"
)
_VALUE = LazyPattern(r"([\"'])?(?(1)[^\"'\r\n]{1,512}+|(?!\[REDACTED\])[^\s\"',;&}\]]++)")


def _inline_sub(match: Match[str]) -> str:
    return f"{match['key']}{match['q1']}{match['sep']}{match['q2'] or ''}{REDACTED}"


def _scheme_sub(match: Match[str]) -> str:
    return f"{match.group(1)} {REDACTED}"


def _named_sub(match: Match[str]) -> str:
    return f"{match.group(1)}{REDACTED}"


def _url_sub(match: Match[str]) -> str:
    return f"{match.group(1)}{REDACTED}@"


def _scrub_word_keys(text: str) -> str:
    """``key=value`` where a word of the key is a short secret name (``sig=``, ``db_pwd=``,
    ``"pin": "1234"``), judged as :meth:`Redactor.is_secret_key` judges a key. A bare
    short name takes ``:`` only when quoted: ``missing key: id`` is prose."""
    pieces: list[str] = []
    done = 0
    for match in _KEY_SEPARATOR.compiled.finditer(text):
        if match.start() < done:
            continue  # inside a value already replaced
        words = _words(match[1])
        if not _names_a_secret(words):
            continue
        if match[3] == ":" and not match[2] and len(words) == 1:
            continue
        value = _VALUE.compiled.match(text, match.end())
        if value is not None:
            pieces.append(f"{text[done : match.end()]}{value[1] or ''}{REDACTED}")
            done = value.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _scrub(text: str, rule: _InlineRule) -> str:
    if len(text) < 6:
        return text
    # Substring checks run in C and rule out almost every string; the regexes run only
    # on text that could hold what they look for.
    lowered = text.lower()
    if "private key" in lowered:
        text = _PEM_KEY.sub(REDACTED, text)
    if "authorization" in lowered:
        text = _AUTHORIZATION.sub(_named_sub, text)
    if "bearer" in lowered or "basic" in lowered or "digest" in lowered or "negotiate" in lowered:
        text = _SCHEME.sub(_scheme_sub, text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "://" in text and "@" in text:
        text = _URL_USERINFO.sub(_url_sub, text)
    if "AKIA" in text or "ASIA" in text:
        text = _AWS_KEY_ID.sub(REDACTED, text)
    if "=" in text or ":" in text:
        if "cookie" in lowered:
            text = _COOKIE.sub(_named_sub, text)
        if rule.triggers().search(lowered):
            text = rule.pattern().sub(_inline_sub, text)
        if _WORD_TRIGGERS.search(lowered):
            text = _scrub_word_keys(text)
    return text


def _scrub_head(text: str, limit: int, rule: _InlineRule) -> str:
    """The first ``limit`` characters of ``text`` scrubbed, reading past the cut.

    The scrubber reads ``_CUT_MARGIN`` characters past the cut, further than any
    credential's start lies from what identifies it, so a credential the cut splits is
    recognised whole. Where the text goes on past that reading, what is kept stays
    ``_CUT_GUARD`` scrubbed characters short of its end (only replacements that shrank
    the text a lot bring it closer), so a credential split there is never kept either.
    """
    window = text[: limit + _CUT_MARGIN]
    scrubbed = _scrub(window, rule)
    if len(window) < len(text):
        limit = min(limit, max(len(scrubbed) - _CUT_GUARD, 0))
    return scrubbed[:limit]


def scrub_text(text: str) -> str:
    """Remove credentials that appear inline in free text (messages, traces, paths).

    >>> scrub_text("login failed for password=hunter2 with Bearer abc.def.ghi")
    'login failed for password=[REDACTED] with Bearer [REDACTED]'
    """
    return _scrub(text, _DEFAULT_INLINE)


def _normalise(key: str) -> str:
    return key.lower().replace("-", "_").replace(" ", "_")


def _words(key: str) -> list[str]:
    """The lower-cased words of ``key``, split on ``_ - .``, spaces and camelCase
    (``dbPwd`` and ``APIKey`` give ``db, pwd`` and ``api, key``)."""
    if not key.islower():
        marked: list[str] = []
        before = ""
        for index, char in enumerate(key):
            if char.isupper() and (
                before.islower()
                or before.isdigit()
                or (before.isupper() and key[index + 1 : index + 2].islower())
            ):
                marked.append("_")
            marked.append(char)
            before = char
        key = "".join(marked)
    return _normalise(key).replace(".", "_").split("_")


def _names_a_secret(words: list[str]) -> bool:
    return words[-1] not in _DESCRIPTIVE_WORDS and not _SECRET_KEY_WORDS.isdisjoint(words)


class Redactor:
    """Turns any object into a JSON value with secrets replaced by ``[REDACTED]``.

    Walks dicts and other mappings, lists, tuples, sets, dataclasses, objects with
    ``__dict__`` or ``__slots__``, :class:`~daloy_edge.Headers` and exceptions. Cycles
    become ``[Circular]``; nesting past ``max_depth`` becomes ``[MaxDepth]``; long
    containers and strings are cut. One string extends the key list:

    >>> Redactor(extra_keys=("iban",)).redact({"IBAN": "DE89 3704", "user": "ana"})
    {'IBAN': '[REDACTED]', 'user': 'ana'}

    Security: redaction is a second line of defence; do not log secrets on purpose.
    """

    __slots__ = ("_cache", "_fragments", "_inline", "_json", "max_depth", "max_items", "max_string")

    def __init__(
        self,
        *,
        extra_keys: Iterable[str] = (),
        max_depth: int = 8,
        max_items: int = 100,
        max_string: int = 4096,
    ) -> None:
        extra = tuple(_normalise(k) for k in extra_keys if k.strip())
        self._fragments = DEFAULT_SECRET_KEYS + extra
        self._inline = _InlineRule(self._fragments) if extra else _DEFAULT_INLINE
        self._cache: dict[str, bool] = {}
        self._json: dict[str, str] = {}  # scrub_json's literals
        self.max_depth = max_depth
        self.max_items = max_items
        self.max_string = max_string

    def is_secret_key(self, key: str) -> bool:
        """True when a value stored under ``key`` must not be logged."""
        known = self._cache.get(key)
        if known is not None:
            return known
        norm = _normalise(key)
        secret = any(f in norm for f in self._fragments)
        if not secret:
            secret = _names_a_secret(_words(key))
        if len(self._cache) >= _KEY_CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = secret
        return secret

    def is_secret_header(self, name: str) -> bool:
        """True for credential-bearing headers (``Authorization``, ``*-Signature*`` …)."""
        lowered = name.lower()
        if lowered in _SECRET_HEADERS:
            return True
        return any(f in lowered for f in _SECRET_HEADER_FRAGMENTS) or self.is_secret_key(name)

    def scrub(self, text: str, *, limit: int | None = None) -> str:
        """Scrub inline credentials from ``text`` and cut it to ``limit`` characters
        (``max_string`` by default).

        Scrubbed first, then cut: a cut made first could keep the start of a credential
        whose end the scrubber needs (``https://admin:pass`` without its ``@host``).
        """
        if len(text) < 6:
            return text
        limit = self.max_string if limit is None else limit
        if len(text) <= limit:
            return _scrub(text, self._inline)
        return f"{_scrub_head(text, limit, self._inline)}…[{len(text) - limit} more]"

    def scrub_json(self, text: str, limit: int | None = None) -> str:
        """:meth:`scrub` of ``text`` (cut to ``limit``, at most ``max_string``) as a JSON
        string literal, remembered for short texts (paths and user agents recur). Reused
        only while ``text`` is within the limit: nothing is cut then, and the result
        depends on ``text`` and the key list alone."""
        if limit is None or limit > self.max_string:
            limit = self.max_string
        short = len(text) <= limit
        found = self._json.get(text) if short else None
        if found is None:
            found = string_ascii(self.scrub(text, limit=limit))
            if short and len(text) <= _LITERAL_MAX_LEN:
                if len(self._json) >= _LITERALS_KEPT:
                    self._json.clear()
                self._json[text] = found
        return found

    def headers(self, headers: Headers | Mapping[str, str]) -> dict[str, JSON]:
        """Header fields as a dict of lower-cased names; credential headers redacted."""
        pairs = headers.items() if isinstance(headers, Headers | Mapping) else ()
        result: dict[str, JSON] = {}
        for name, value in pairs:
            lowered = str(name).lower()
            shown: str = REDACTED if self.is_secret_header(lowered) else self.scrub(str(value))
            existing = result.get(lowered)
            if existing is None:
                result[lowered] = shown
            elif isinstance(existing, list):
                existing.append(shown)
            else:
                result[lowered] = [existing, shown]
        return result

    def redact(self, value: object) -> JSON:
        """A JSON value for ``value`` with every secret replaced."""
        return _Walk(self).visit(value, 0)


class _Walk:
    """One traversal: remembers the containers on the current path to stop cycles."""

    __slots__ = ("active", "redactor")

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.active: set[int] = set()

    def visit(self, value: object, depth: int) -> JSON:
        kind = type(value)
        if kind is str:
            return self.redactor.scrub(value)  # type: ignore[arg-type]
        if value is None or kind is bool or (kind is int and -(2**63) <= value < 2**63):  # type: ignore[operator]
            return value  # type: ignore[return-value]
        if isinstance(value, bool | str | int | float):
            return self._scalar(value)
        if isinstance(value, Secret | KeyRing):
            return REDACTED
        if isinstance(value, bytes | bytearray | memoryview):
            return self.redactor.scrub(bytes(value).decode("utf-8", "backslashreplace"))
        if depth >= self.redactor.max_depth:
            return "[MaxDepth]"
        marker = id(value)
        if marker in self.active:
            return "[Circular]"
        self.active.add(marker)
        try:
            return self._container(value, depth + 1)
        finally:
            self.active.discard(marker)

    def _scalar(self, value: str | int | float | bool | None) -> JSON:
        if isinstance(value, str):
            return self.redactor.scrub(value)
        if isinstance(value, float) and not _finite(value):
            return str(value)
        if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
            return f"[int of {value.bit_length()} bits]"
        return value

    def _container(self, value: object, depth: int) -> JSON:
        if isinstance(value, Headers):
            return self.redactor.headers(value)
        if isinstance(value, Mapping):
            mapping: Mapping[object, object] = value
            return self._mapping(mapping.items(), depth)
        if isinstance(value, BaseException):
            return self._mapping(_exception_fields(value), depth)
        if isinstance(value, list | tuple | set | frozenset):
            return self._sequence(value, depth)
        fields = _declared_fields(value)
        if fields is not None:
            return self._mapping(fields, depth)
        if callable(value):
            return f"<{type(value).__qualname__}>"
        attributes = _attributes(value)
        if attributes is not None:
            return self._mapping(attributes, depth)
        return self.redactor.scrub(f"<{type(value).__qualname__}>")

    def _mapping(self, items: Iterable[tuple[object, object]], depth: int) -> dict[str, JSON]:
        result: dict[str, JSON] = {}
        limit = self.redactor.max_items
        for count, (key, item) in enumerate(items):
            if count >= limit:
                result["…"] = "[more items]"
                break
            name = key if isinstance(key, str) else _key_text(key)
            if self.redactor.is_secret_key(name):
                result[self.redactor.scrub(name)] = REDACTED
            else:
                result[self.redactor.scrub(name)] = self.visit(item, depth)
        return result

    def _sequence(self, items: Iterable[object], depth: int) -> list[JSON]:
        result: list[JSON] = []
        limit = self.redactor.max_items
        for count, item in enumerate(items):
            if count >= limit:
                result.append("[more items]")
                break
            result.append(self.visit(item, depth))
        return result


def _finite(value: float) -> bool:
    # ``math.isfinite`` without loading ``math``: inf - inf and nan - nan are nan.
    return value - value == 0


def _key_text(key: object) -> str:
    if key is None or isinstance(key, bool | int | float):
        return str(key)
    if isinstance(key, bytes):
        return key.decode("utf-8", "backslashreplace")
    return f"<{type(key).__qualname__}>"


def _exception_fields(exc: BaseException) -> list[tuple[object, object]]:
    return [("type", type(exc).__qualname__), ("message", str(exc))]


def _declared_fields(value: object) -> list[tuple[object, object]] | None:
    """The fields of a dataclass or :func:`~daloy_edge._record.record` instance, in order.

    Neither check imports :mod:`dataclasses`: an instance of a dataclass can only exist
    once that module has been imported, so it is taken from ``sys.modules``.
    """
    kind = type(value)
    names: list[str]
    if isinstance(value, type):
        return None
    if hasattr(kind, "__dataclass_fields__"):
        dataclasses = sys.modules["dataclasses"]
        names = [f.name for f in dataclasses.fields(value)]
    elif hasattr(kind, "__record_fields__"):
        names = [f.name for f in kind.__record_fields__]
    else:
        return None
    return [(name, getattr(value, name, None)) for name in names]


def _attributes(value: object) -> list[tuple[object, object]] | None:
    """The instance attributes of an ordinary object (``__dict__`` and ``__slots__``)."""
    found: list[tuple[object, object]] = []
    names: list[str] = []
    for klass in type(value).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    for name in names:
        if name not in ("__dict__", "__weakref__") and hasattr(value, name):
            found.append((name, getattr(value, name)))
    instance_dict = getattr(value, "__dict__", None)
    if isinstance(instance_dict, dict):
        found.extend(instance_dict.items())
    elif not names:
        return None
    return found


_DEFAULT = Redactor()


def redact(value: object) -> JSON:
    """Redact ``value`` with the default rules (see :class:`Redactor`).

    >>> redact({"user": "ana", "Password": "hunter2", "nested": [{"api_key": "k"}]})
    {'user': 'ana', 'Password': '[REDACTED]', 'nested': [{'api_key': '[REDACTED]'}]}
    """
    return _DEFAULT.redact(value)
