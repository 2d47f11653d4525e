"""Who made the request, as established by an authentication middleware."""

from __future__ import annotations

from daloy_edge._record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import MappingProxyType

    from daloy_edge.types import JSON
else:
    # The class of a class's ``__dict__``: ``types`` itself is about 2% of a cold start.
    MappingProxyType = type(type.__dict__)


__all__ = ["Principal", "scopes_from_claims"]

_NO_SCOPE = frozenset({""})
_SPLIT: dict[str, frozenset[str]] = {}
_SPLIT_LIMIT = 256


@record(frozen=True)
class Principal:
    """An authenticated caller, stored in ``request.principal``.

    ``scheme`` says how it was established (``"bearer"`` for JWTs, ``"basic"``);
    ``claims`` are the verified token claims (empty for basic auth).

    >>> Principal("alice", frozenset({"reports:read"})).has_scopes("reports:read")
    True
    """

    subject: str
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, JSON] = field(default_factory=lambda: MappingProxyType({}))
    scheme: str = "bearer"

    def has_scopes(self, *required: str) -> bool:
        """True when every scope in ``required`` was granted."""
        return self.scopes.issuperset(required)


def _scope_list(value: JSON, name: str) -> list[str]:
    if isinstance(value, str):
        return value.split(" ")
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item for item in value if isinstance(item, str)]
    raise ValueError(f"{name} must be a string or a list of strings")


def scopes_from_claims(claims: Mapping[str, JSON]) -> frozenset[str]:
    """Scopes granted by ``scope`` (space-separated, RFC 8693) and ``scp`` (a list, or a
    space-separated string). Each entry is one scope, verbatim: a comma-joined string
    such as ``"a,b"`` is the single scope ``a,b`` and grants neither ``a`` nor ``b``.

    Raises ``ValueError`` when either claim has another type.

    >>> sorted(scopes_from_claims({"scope": "a b", "scp": ["c"]}))
    ['a', 'b', 'c']
    """
    scope = claims.get("scope")
    if type(scope) is str and claims.get("scp") is None:
        # The usual shape, one space-separated ``scope``. An issuer grants the same few
        # strings over and over, so each is split once (the result depends on nothing else).
        granted = _SPLIT.get(scope)
        if granted is None:
            granted = _split_scope(scope)
        return granted
    return _all_scopes(claims)


def _split_scope(scope: str) -> frozenset[str]:
    granted = frozenset(scope.split(" "))
    if "" in granted:
        granted -= _NO_SCOPE
    if len(_SPLIT) >= _SPLIT_LIMIT:
        _SPLIT.clear()
    _SPLIT[scope] = granted
    return granted


def _all_scopes(claims: Mapping[str, JSON]) -> frozenset[str]:
    granted: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if value is not None:
            granted.update(item for item in _scope_list(value, name) if item)
    return frozenset(granted)
