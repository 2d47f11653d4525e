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
from daloy_edge._request import Request
from daloy_edge._secrets import KeyRing, Secret
from daloy_edge.observability._inline import (
    DEFAULT_INLINE,
    DEFAULT_SECRET_KEYS,
    REDACTED,
    InlineRule,
    fold_key,
    key_words,
    names_a_secret,
    normalise_key,
    scrub_head,
    scrub_inline,
    scrub_text,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from daloy_edge.types import JSON

__all__ = ["DEFAULT_SECRET_KEYS", "REDACTED", "Redactor", "redact", "scrub_text"]

_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
_SECRET_HEADER_FRAGMENTS = ("signature", "token")
# Headers whose value is a URL, a query and fragment with it: where a page's or a
# redirect's credentials and personal data travel, as in the request target, whose query
# the request line leaves out (OAuth ``code``, a reset link's key, an e-mail address).
_URL_HEADERS = frozenset(
    {
        "referer",
        "location",
        "content-location",
        "x-forwarded-uri",
        "x-original-uri",
        "x-original-url",
        "x-rewrite-url",
    }
)
_KEY_CACHE_LIMIT = 2048
_KEY_MAX_LEN = 256
_LITERAL_MAX_LEN = 256
_LITERALS_KEPT = 256
_MAX_INT_BITS = 256
MAX_HEADER_FIELDS = 64
"""Most header fields :meth:`Redactor.headers` shows."""
MAX_HEADER_CHARS = 8192
"""Most characters of header names and values :meth:`Redactor.headers` shows."""


class Redactor:
    """Turns any object into a JSON value with secrets replaced by ``[REDACTED]``.

    Walks dicts and other mappings, lists, tuples, sets, dataclasses and named tuples (by field,
    those declared ``repr=False`` left out), objects with ``__dict__`` or ``__slots__``,
    :class:`~daloy_edge.Headers` and exceptions; a :class:`~daloy_edge.Request` shows its
    method, path, route and id only; the ``(name, value)`` pairs of a sequence (ASGI headers,
    parsed query strings) are judged by name as a mapping's items are. Cycles become
    ``[Circular]``; nesting past ``max_depth`` becomes ``[MaxDepth]``; long containers and
    strings are cut, and so is a value once ``max_chars`` characters of its strings and keys are
    written (CloudWatch and Cloud Logging split or cut a line past 256 KB, and a character may
    take twelve bytes escaped). One string extends the key list:

    >>> Redactor(extra_keys=("iban",)).redact({"IBAN": "DE89 3704", "user": "ana"})
    {'IBAN': '[REDACTED]', 'user': 'ana'}

    Security: redaction is a second line of defence; do not log secrets on purpose.
    """

    __slots__ = (
        "_cache",
        "_fragments",
        "_inline",
        "_json",
        "max_chars",
        "max_depth",
        "max_items",
        "max_string",
    )

    def __init__(
        self,
        *,
        extra_keys: Iterable[str] = (),
        max_depth: int = 8,
        max_items: int = 100,
        max_string: int = 4096,
        max_chars: int = 16_384,
    ) -> None:
        extra = tuple(normalise_key(k) for k in extra_keys if k.strip())
        self._fragments = DEFAULT_SECRET_KEYS + extra
        self._inline = InlineRule(self._fragments) if extra else DEFAULT_INLINE
        self._cache: dict[str, bool] = {}
        self._json: dict[str, str] = {}  # scrub_json's literals
        self.max_depth = max_depth
        self.max_items = max_items
        self.max_string = max_string
        self.max_chars = max_chars

    def is_secret_key(self, key: str) -> bool:
        """True when a value stored under ``key`` must not be logged (always when ``key``
        is longer than any field name: 256 characters)."""
        known = self._cache.get(key)
        if known is not None:
            return known
        if len(key) > _KEY_MAX_LEN:
            # No field name is that long; its value is kept out unread. Folding takes
            # time quadratic in a run of combining marks (canonical reordering): a 64 KB
            # key of them, in a logged JSON body, held the process for seconds. Splitting
            # a key into words reads it a character at a time: a 1 MB ASCII key did for
            # a third of a second.
            secret = True
        else:
            ascii_key = key.isascii()
            name = key if ascii_key else fold_key(key)
            norm = normalise_key(name)
            secret = any(f in norm for f in self._fragments)
            if not secret:
                secret = names_a_secret(key_words(name))
        # Keys come from clients too (header names, a logged JSON body): only field-name
        # sized ones are kept, or 2048 one-megabyte keys would be held for good.
        if len(key) <= _KEY_MAX_LEN:
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
            return scrub_inline(text, self._inline)
        return f"{scrub_head(text, limit, self._inline)}…[{len(text) - limit} more]"

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
        """Header fields as a dict of lower-cased names; credential headers redacted, and
        a URL header (``Referer``, ``Location`` ...) without its query and fragment.

        At most :data:`MAX_HEADER_FIELDS` fields and :data:`MAX_HEADER_CHARS` characters
        of names and values, the rest marked under ``…``: the headers of a request
        refused with 431 for their size are what the log would otherwise repeat.
        """
        pairs = headers.items() if isinstance(headers, Headers | Mapping) else ()
        result: dict[str, JSON] = {}
        room = MAX_HEADER_CHARS
        for count, (name, value) in enumerate(pairs):
            if count >= MAX_HEADER_FIELDS or room <= 0:
                result["…"] = "[more fields]"
                break
            lowered = str(name).lower()
            secret = self.is_secret_header(lowered)
            if len(lowered) > _KEY_MAX_LEN:
                lowered = f"{lowered[:_KEY_MAX_LEN]}…"
            room -= len(lowered)
            text = str(value)
            if lowered in _URL_HEADERS:
                text = _without_query(text)
            shown = (
                REDACTED if secret else self.scrub(text, limit=max(min(room, self.max_string), 0))
            )
            room -= len(shown)
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
    """One traversal: remembers the containers on the current path to stop cycles, and
    what is left of ``max_chars`` (every value costs one, a string or key its length too).

    The allowance bounds the work as well as the text: a list holding the same list a
    hundred times, nested a few deep, is billions of values to visit.
    """

    __slots__ = ("active", "redactor", "room")

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.active: set[int] = set()
        self.room = redactor.max_chars

    def visit(self, value: object, depth: int) -> JSON:
        kind = type(value)
        if kind is str:
            text = self.redactor.scrub(value)  # type: ignore[arg-type]
            self.room -= len(text) + 1
            return text
        self.room -= 1
        if value is None or kind is bool or (kind is int and -(2**63) <= value < 2**63):  # type: ignore[operator]
            return value  # type: ignore[return-value]
        try:
            return self._value(value, depth)
        except Exception:
            # An ``items()`` or ``__str__`` that raises, an int key too long for ``str``,
            # a ``__class__`` that raises (an unbound proxy): the value is marked, and the
            # log call returns as usual.
            return f"[unreadable {kind.__qualname__}]"

    def _value(self, value: object, depth: int) -> JSON:
        if isinstance(value, bool | str | int | float):
            return self._scalar(value)
        if isinstance(value, Secret | KeyRing):
            return REDACTED
        if isinstance(value, bytes | bytearray | memoryview):
            return self._text(bytes(value).decode("utf-8", "backslashreplace"))
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

    def _text(self, text: str) -> str:
        shown = self.redactor.scrub(text)
        self.room -= len(shown)
        return shown

    def _scalar(self, value: str | int | float | bool | None) -> JSON:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, float) and not _finite(value):
            return str(value)
        if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
            return f"[int of {value.bit_length()} bits]"
        return value

    def _container(self, value: object, depth: int) -> JSON:
        if isinstance(value, Headers):
            shown = self.redactor.headers(value)
            self.room -= sum(len(name) + len(str(field)) for name, field in shown.items())
            return shown
        if isinstance(value, Mapping):
            mapping: Mapping[object, object] = value
            return self._mapping(mapping.items(), depth)
        if isinstance(value, Request):
            return self._mapping(_request_fields(value), depth)
        if isinstance(value, BaseException):
            return self._mapping(_exception_fields(value), depth)
        if isinstance(value, list | tuple | set | frozenset):
            names = _tuple_fields(value)
            if names is not None:
                return self._mapping(zip(names, value, strict=False), depth)
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
            if count >= limit or self.room <= 0:
                result["…"] = "[more items]"
                break
            name = key if isinstance(key, str) else _key_text(key)
            shown = self.redactor.scrub(name)
            self.room -= len(shown)
            if self.redactor.is_secret_key(name):
                result[shown] = REDACTED
            else:
                result[shown] = self.visit(item, depth)
        return result

    def _sequence(self, items: Iterable[object], depth: int) -> list[JSON]:
        result: list[JSON] = []
        limit = self.redactor.max_items
        for count, item in enumerate(items):
            if count >= limit or self.room <= 0:
                result.append("[more items]")
                break
            name = _pair_name(item)
            if name is not None and self.redactor.is_secret_header(name):
                shown = self.redactor.scrub(name)
                self.room -= len(shown)
                result.append([shown, REDACTED])
            else:
                result.append(self.visit(item, depth))
        return result


def _without_query(url: str) -> str:
    """``url`` up to its query or fragment, whichever comes first."""
    end = len(url)
    for mark in "?#":
        found = url.find(mark, 0, end)
        if found >= 0:
            end = found
    return url[:end]


def _finite(value: float) -> bool:
    # ``math.isfinite`` without loading ``math``: inf - inf and nan - nan are nan.
    return value - value == 0


def _key_text(key: object) -> str:
    # An enum member by its name (``Field.PASSWORD``), as a str-valued one already is; a
    # tuple by its parts (``("db", "password")``): shown as their type alone, such keys
    # never named the secret their value holds. ``enum`` is only looked up, not imported.
    enum = sys.modules.get("enum")
    if enum is not None and isinstance(key, enum.Enum):
        return f"{type(key).__qualname__}.{key.name}"
    if key is None or isinstance(key, bool | int | float):
        return str(key)
    if isinstance(key, bytes):
        return key.decode("utf-8", "backslashreplace")
    if isinstance(key, tuple):
        return ".".join(part if isinstance(part, str) else _key_text(part) for part in key)
    return f"<{type(key).__qualname__}>"


def _tuple_fields(value: object) -> tuple[str, ...] | None:
    """The field names of a named tuple, which is walked by field as a dataclass is (as a
    plain tuple, ``Login(user, password)`` logged the password)."""
    names = getattr(type(value), "_fields", None) if isinstance(value, tuple) else None
    if isinstance(names, tuple) and all(isinstance(name, str) for name in names):
        return names
    return None


def _pair_name(item: object) -> str | None:
    """The name of a ``(name, value)`` pair in a sequence of pairs: header lists (ASGI's
    ``[(b"cookie", b"sid=…")]``, ``multi_items()``), parsed query strings, form fields."""
    if not isinstance(item, tuple | list) or len(item) != 2:
        return None
    name = item[0]
    if isinstance(name, str):
        return name
    if isinstance(name, bytes):
        return name.decode("utf-8", "backslashreplace")
    return None


def _request_fields(request: Request) -> list[tuple[object, object]]:
    """A request as its log line names it. Its own fields hold the raw query string, the
    body it read, the principal's claims and its state (the app's log, with the process
    environment): what the request line leaves out."""
    return [
        ("method", request.method),
        ("path", request.path),
        ("route", request.route),
        ("request_id", request.request_id),
    ]


def _exception_fields(exc: BaseException) -> list[tuple[object, object]]:
    return [("type", type(exc).__qualname__), ("message", str(exc))]


def _declared_fields(value: object) -> list[tuple[object, object]] | None:
    """The fields of a dataclass or :func:`~daloy_edge._record.record` instance, in order,
    but for those declared ``repr=False``: kept out of its repr, such a field is kept out
    of a line too (LogConfig's ``env``, the whole process environment, was written by a
    handler logging ``request.state``, which holds the request's log and its config).

    Neither check imports :mod:`dataclasses`: an instance of a dataclass can only exist
    once that module has been imported, so it is taken from ``sys.modules``.
    """
    kind = type(value)
    names: list[str]
    if isinstance(value, type):
        return None
    if hasattr(kind, "__dataclass_fields__"):
        dataclasses = sys.modules["dataclasses"]
        names = [f.name for f in dataclasses.fields(value) if f.repr]
    elif hasattr(kind, "__record_fields__"):
        names = [f.name for f in kind.__record_fields__ if f.repr]
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
