"""Case-insensitive, multi-value HTTP headers."""

from __future__ import annotations

from _collections_abc import Iterable, Mapping  # collections.abc would import collections

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, KeysView
    from typing import overload

__all__ = ["Headers", "check_field", "check_response_fields", "join_content_types"]

_MASKED_IN_REPR = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)

# Built at run time like the ``isinstance`` check below, hence the ABCs from ``_abc``.
HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]] | None
_new = object.__new__
# Header names known to be lower-case ASCII (``from_dict``): a client's names recur on
# every request. Bounded in entries and size, so names an attacker varies cost only
# the full test, never memory; a full set starts over rather than stop learning (kept
# full, made-up names kept every name first seen later on the full test for good).
_LOWER_NAMES: set[str] = set()
_LOWER_NAMES_MAX = 512
_LOWER_NAMES_SIZE = 1024


_FIELD_TABLES: tuple[bytes, bytes] | None = None


def lower_unicode_name(name: str) -> str:
    """A received header name that is not ASCII, lower-cased unless that makes it ASCII:
    ``str.lower()`` maps the Kelvin sign (U+212A) to "k", and "Coo\u212aie" (which
    servers refuse; an event may carry it) passed the request's name check as "cookie".
    Kept as it came, it is refused like any other name that is no token."""
    lowered = name.lower()
    return name if lowered.isascii() else lowered


def _field_tables() -> tuple[bytes, bytes]:
    # Built on first use: most apps never give a response field by hand.
    global _FIELD_TABLES
    from daloy_edge._charset import TCHAR, allowed

    # RFC 9110 field-value characters: HTAB, SP, VCHAR and obs-text (0x80-0xFF).
    value = bytes(0x61 if code == 9 or 32 <= code != 127 else 0x20 for code in range(256))
    _FIELD_TABLES = (allowed(TCHAR), value)
    return _FIELD_TABLES


def _field_value(value: str, table: bytes) -> bool:
    try:
        encoded = value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not encoded or encoded.translate(table).isalnum()


def check_field(name: str, value: str) -> str:
    """Raise ``ValueError`` for a header field no runtime sends as given; return the
    value as it is sent, without the spaces and tabs around it.

    A name must be a token and a value text of RFC 9110 field-value characters (no
    control character but tab, nothing past U+00FF): a line break would split the
    field, and the runtimes differ on the rest (the ASGI adapter could not encode "€",
    Lambda passed it on, Workers' ``Headers`` throws), so a handler's mistake is a 500
    problem with the cause in the log, the same everywhere.
    """
    names, values = _FIELD_TABLES or _field_tables()
    if not isinstance(name, str) or not (
        name.isascii() and name.encode().translate(names).isalnum()
    ):
        raise ValueError(f"header name {name!r} is not a token")
    if not isinstance(value, str) or not _field_value(value, values):
        # The value itself stays out of the message (and the log): it may be a secret.
        raise ValueError(
            f"the value of header {name!r} is no field value"
            " (a control character or a character past U+00FF)"
        )
    # Spaces and tabs around a value are no part of it (RFC 9110 5.5). Sent as given,
    # h11 (uvicorn's and Hypercorn's HTTP/1.1) refused the field after the request was
    # logged as answered and dropped the connection; gunicorn and Workers' ``Headers``
    # strip them. The same str when there are none.
    return value.strip(" \t")


def check_response_fields(items: list[tuple[str, str]]) -> bool:
    """:func:`check_field` for each (name, value) pair, each value replaced in ``items``
    by the one sent; True when any was. A Content-Type on several lines becomes one
    field, its lines joined (:func:`join_content_types`)."""
    changed = False
    types = 0
    for i, (name, value) in enumerate(items):
        sent = check_field(name, value)
        if sent is not value:
            items[i] = (name, sent)
            changed = True
        if name == "content-type":
            types += 1
    if types > 1:
        join_content_types(items)
        changed = True
    return changed


def join_content_types(items: list[tuple[str, str]]) -> None:
    """Make the Content-Type lines of ``items`` one field in place of the first, their
    values joined with ``", "``: what a browser reads, and renders by the last type it
    can parse. Kept apart, everything here read the first line alone (an upstream's
    ``application/json`` then ``text/html``, passed on, went out as a page without the
    policy HTML gets)."""
    where = [i for i, (name, _) in enumerate(items) if name == "content-type"]
    joined = ", ".join([items[i][1] for i in where])
    items[where[0]] = ("content-type", joined)
    for i in reversed(where[1:]):
        del items[i]


class Headers:
    """An ordered multi-map of header fields; names compare case-insensitively.

    Repeated fields (``Set-Cookie`` above all) are kept as separate entries. A field
    added by ``h[name] = value``, :meth:`add` or :meth:`setdefault` is checked as it is
    added (:func:`check_field`): a handler or middleware that adds one with a line break,
    a control character, a character past U+00FF or a name that is no token gets a
    ``ValueError`` at that line, a 500 problem, rather than a response each runtime
    fails its own way after the app logged it.

    >>> h = Headers([("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    >>> h.get_all("SET-COOKIE")
    ['a=1', 'b=2']
    """

    __slots__ = ("_index", "_items")

    def __init__(self, items: HeaderInput | Headers = None) -> None:
        self._items: list[tuple[str, str]] = []
        # Each name with its value, when no name repeats and every name is lower-case
        # (``from_dict``, ``_from_received``): lookups are one hash instead of a scan.
        # Never changed in place; dropped by every change of the fields.
        self._index: dict[str, str] | None = None
        if items is None:
            return
        # ``type(...) is dict`` first: the ABC check costs more than the copy for the
        # plain dicts every Lambda event carries.
        # Another ``Headers`` is no Mapping, yet iterating it gives only its names: read
        # as pairs, "ab" became the field "a: b".
        pairs = (
            items.items() if type(items) is dict or isinstance(items, (Headers, Mapping)) else items
        )
        self._items = [
            (name.lower() if name.isascii() else lower_unicode_name(name), value)
            for name, value in pairs
        ]

    @classmethod
    def _from_lowered(cls, items: list[tuple[str, str]]) -> Headers:
        headers = cls.__new__(cls)
        headers._items = items
        headers._index = None
        return headers

    @classmethod
    def _from_received(cls, items: list[tuple[str, str]]) -> Headers:
        """A request's fields as a server or an event delivered them, names lower-cased
        already: indexed when no name repeats, as in most requests, so that lookups are
        one hash instead of a scan of every field."""
        headers = cls.__new__(cls)
        headers._items = items
        index = dict(items)
        headers._index = index if len(index) == len(items) else None
        return headers

    @classmethod
    def from_dict(cls, source: dict[str, str]) -> Headers:
        """``Headers(source)`` for the plain dicts events carry: when every name is
        lower-case ASCII already (as HTTP APIs and Function URLs deliver them), the pairs
        are taken as they are instead of lowering each name."""
        # Names seen lower-case before need no second look: one C-level subset test.
        if source.keys() <= _LOWER_NAMES:
            headers: Headers = _new(cls)
            headers._items = list(source.items())
            headers._index = source.copy()
            return headers
        try:
            names = "".join(source)
        except TypeError:  # a name that is not a str: let the general path fail as before
            names = "X"
        if names.isascii() and names.lower() == names:
            headers = _new(cls)
            headers._items = list(source.items())
            headers._index = source.copy()
            if len(names) <= _LOWER_NAMES_SIZE:
                if len(_LOWER_NAMES) >= _LOWER_NAMES_MAX:
                    _LOWER_NAMES.clear()
                _LOWER_NAMES.update(source)
            return headers
        # Lowered, names that differed only in case ("Host", "host") become one: the
        # index is kept only when none did.
        return cls._from_received(
            [
                (name.lower() if name.isascii() else lower_unicode_name(name), value)
                for name, value in source.items()
            ]
        )

    if TYPE_CHECKING:
        # A value, whenever a ``str`` default is given (as ``Mapping.get`` types it).

        @overload
        def get(self, name: str, default: None = None) -> str | None: ...
        @overload
        def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        index = self._index
        if index is not None:
            value = index.get(name)
            return value if value is not None else index.get(name.lower(), default)
        key = name.lower()
        for k, v in self._items:
            if k == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order."""
        index = self._index
        if index is not None:  # names from a dict: each one at most once
            key = name if name in index else name.lower()
            return [index[key]] if key in index else []
        key = name.lower()
        return [v for k, v in self._items if k == key]

    def get_joined(self, name: str) -> str | None:
        """Every line of ``name`` as one field, joined with ``", "`` (RFC 9110 5.3), each
        without the spaces and tabs around it (RFC 9110 5.5); ``None`` when absent.

        Security: the value is the same whether a runtime kept repeated lines apart or
        joined them itself (HTTP APIs, Function URLs, functions-framework, Workers), so a
        single-value field sent twice reads as one malformed value on every runtime,
        never as whichever line a runtime happened to keep. Whitespace around a line is
        dropped as HTTP servers drop it, which events and ASGI scopes may not have done:
        ``" same-origin"`` reads alike everywhere.

        >>> h = Headers([("Sec-Fetch-Site", "same-origin"), ("sec-fetch-site", "cross-site")])
        >>> h.get_joined("sec-fetch-site")
        'same-origin, cross-site'
        """
        index = self._index
        if index is not None:  # names from a dict: each one at most once
            value = index.get(name)
            if value is None:
                value = index.get(name.lower())
            return None if value is None else value.strip(" \t")
        values = self.get_all(name)
        if not values:
            return None
        if len(values) == 1:
            return values[0].strip(" \t")
        return ", ".join([value.strip(" \t") for value in values])

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        index = self._index
        if index is not None:
            return name in index or name.lower() in index
        key = name.lower()
        return any(k == key for k, _ in self._items)

    def __setitem__(self, name: str, value: str) -> None:
        """Replace every value of ``name`` with ``value``; ``ValueError`` for a field no
        runtime sends as given (:func:`check_field`)."""
        self.put_lowered(name.lower(), check_field(name, value))

    def put_lowered(self, key: str, value: str) -> None:
        """``self[key] = value`` unchecked, for a name known to be lower-case and a field
        known to be sendable (the toolkit's own, built or checked beforehand)."""
        items = self._items
        self._index = None
        for k, _ in items:
            if k == key:
                items = self._items = [(k, v) for k, v in items if k != key]
                break
        items.append((key, value))

    def put_lowered_pair(self, key: str, value: str, key2: str, value2: str) -> None:
        """``self[key] = value`` then ``self[key2] = value2`` in one pass over the fields,
        for two different names known to be lower-case already (the two the app sets on
        every response), unchecked as :meth:`put_lowered`."""
        items, keys = self._items, (key, key2)
        self._index = None
        for k, _ in items:
            if k in keys:
                items = self._items = [(k, v) for k, v in items if k not in keys]
                break
        items.append((key, value))
        items.append((key2, value2))

    def setdefault(self, name: str, value: str) -> str:
        """Set ``name`` only when it is absent; returns the value in force. ``ValueError``
        for a field no runtime sends as given, as for ``self[name] = value``."""
        existing = self.get(name)
        if existing is not None:
            return existing
        value = check_field(name, value)
        self._items.append((name.lower(), value))
        self._index = None
        return value

    def add(self, name: str, value: str) -> None:
        """Append one more value for ``name``; ``ValueError`` for a field no runtime
        sends as given, as for ``self[name] = value``. A second Content-Type is joined to
        the first, as a browser reads the two (:func:`join_content_types`)."""
        key = name.lower()
        self._items.append((key, check_field(name, value)))
        self._index = None
        if key == "content-type" and len(self.get_all(key)) > 1:
            join_content_types(self._items)

    def add_lowered(self, key: str, value: str) -> None:
        """:meth:`add` unchecked, as :meth:`put_lowered`."""
        self._items.append((key, value))
        self._index = None

    def extend_lowered(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Append pairs whose names are lower-case already (names prepared once, at build
        time, by middleware that adds the same headers to every response), unchecked as
        :meth:`put_lowered`."""
        self._items.extend(pairs)
        self._index = None

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        self._items = [(k, v) for k, v in self._items if k != key]
        self._index = None

    if TYPE_CHECKING:

        @overload
        def pop(self, name: str, default: None = None) -> str | None: ...
        @overload
        def pop(self, name: str, default: str) -> str: ...

    def pop(self, name: str, default: str | None = None) -> str | None:
        """Remove ``name`` and return its first value."""
        value = self.get(name, default)
        del self[name]
        return value

    def items(self) -> list[tuple[str, str]]:
        """Every (lower-cased name, value) pair, repeated names included."""
        return list(self._items)

    def keys(self) -> list[str]:
        """Distinct lower-cased names in first-seen order."""
        return list(dict(self._items))

    def names(self) -> KeysView[str]:
        """The lower-cased names present, as a set-like view (one C-level pass)."""
        return dict(self._items).keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> Headers:
        """An independent copy."""
        return Headers._from_lowered(list(self._items))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return sorted(self._items) == sorted(other._items)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = [(k, "***" if k in _MASKED_IN_REPR else v) for k, v in self._items]
        return f"Headers({shown!r})"
