"""JWT claims validation (RFC 7519 section 4.1) against an explicit ``now``."""

from __future__ import annotations

from daloy_edge._errors import ConfigError
from daloy_edge._record import record
from daloy_edge.jose._errors import InvalidToken

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from daloy_edge.types import JSON


__all__ = ["ClaimsPolicy", "validate_claims"]

# For a float, ``_NEG_INF < x < _INF`` is ``math.isfinite(x)`` (NaN compares false),
# without importing ``math``, which is not loaded at a cold start.
_INF = float("inf")
_NEG_INF = -_INF


@record(frozen=True, kw_only=True)
class ClaimsPolicy:
    """What a token's claims must satisfy.

    ``exp`` is always required; ``iss`` must equal ``issuer`` exactly; ``aud`` (a string
    or a list) must name one of ``audience``. ``leeway_s`` absorbs clock skew on ``exp``,
    ``nbf`` and ``iat``; ``max_lifetime_s`` refuses tokens valid for longer (``exp - iat``,
    or ``exp - now`` without ``iat``). ``required`` lists further claims that must exist.
    """

    issuer: str
    audience: str | tuple[str, ...]
    leeway_s: float = 30.0
    max_lifetime_s: float | None = 86400.0
    required: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.issuer, str) or not self.issuer:
            raise ConfigError("issuer is required")
        audiences = (self.audience,) if isinstance(self.audience, str) else self.audience
        if not audiences or not all(isinstance(a, str) and a for a in audiences):
            raise ConfigError("audience is required (a string or a tuple of strings)")
        if not 0 <= self.leeway_s <= 300:
            raise ConfigError("leeway_s must be between 0 and 300 seconds")
        # NaN too: no lifetime exceeds it (None is how to say "no bound").
        if self.max_lifetime_s is not None and not self.max_lifetime_s > 0:
            raise ConfigError("max_lifetime_s must be positive")
        if isinstance(self.required, str):
            # Each of its characters would be a claim every token must hold.
            raise ConfigError("required must be a collection of claim names, not one string")

    @property
    def audiences(self) -> frozenset[str]:
        """The accepted audiences as a set."""
        return frozenset((self.audience,) if isinstance(self.audience, str) else self.audience)


def _number(claims: Mapping[str, JSON], name: str) -> float | None:
    value = claims.get(name)
    try:
        if type(value) is int:
            return float(value)
        if type(value) is float and _NEG_INF < value < _INF:
            return value
        if value is None:
            if name in claims:
                raise InvalidToken(f"{name} is null")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidToken(f"{name} is not a number")
        import math  # only int and float subclasses get here

        if not math.isfinite(value):
            raise InvalidToken(f"{name} is not finite")
        return float(value)
    except OverflowError:  # an integer beyond the largest float: no time a clock reaches
        raise InvalidToken(f"{name} is out of range") from None


def _times(claims: Mapping[str, JSON]) -> tuple[float | None, float | None, float | None]:
    """``exp``, ``nbf`` and ``iat`` as floats, ``None`` where absent."""
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    if type(exp) is int and type(nbf) is int and type(iat) is int:  # as issuers write them
        try:
            return float(exp), float(nbf), float(iat)
        except OverflowError:
            pass  # each is read on its own below, to name the one out of range
    return _number(claims, "exp"), _number(claims, "nbf"), _number(claims, "iat")


def _check_audience(aud: JSON, accepted: frozenset[str]) -> None:
    if not isinstance(aud, list) or not aud:
        raise InvalidToken("aud missing or malformed")
    if not all(isinstance(a, str) for a in aud):
        raise InvalidToken("aud malformed")
    if accepted.isdisjoint(aud):
        raise InvalidToken("audience not accepted")


def validate_claims(
    claims: Mapping[str, JSON],
    policy: ClaimsPolicy,
    now: float,
    *,
    audiences: frozenset[str] | None = None,
) -> None:
    """Raise :class:`InvalidToken` unless ``claims`` satisfy ``policy`` at Unix time ``now``.

    >>> policy = ClaimsPolicy(issuer="https://idp", audience="api")
    >>> validate_claims({"iss": "https://idp", "aud": "api", "exp": 200}, policy, now=100)
    """
    # One function for the common checks: it runs on every request, remembered tokens
    # included, and each call saved is a measurable share of the per-request cost.
    exp, nbf, iat = _times(claims)
    if exp is None:
        raise InvalidToken("exp missing")
    leeway = policy.leeway_s
    if now >= exp + leeway:
        raise InvalidToken("token expired")
    if nbf is not None and nbf > now + leeway:
        raise InvalidToken("token not yet valid (nbf)")
    if iat is not None and iat > now + leeway:
        raise InvalidToken("token issued in the future (iat)")
    limit = policy.max_lifetime_s
    if limit is not None:
        start = iat if iat is not None else now
        if exp - start > limit + (0 if iat is not None else leeway):
            raise InvalidToken("token lifetime exceeds the maximum")
    if claims.get("iss") != policy.issuer:
        raise InvalidToken("issuer not accepted")
    aud = claims.get("aud")
    accepted = policy.audiences if audiences is None else audiences
    if not isinstance(aud, str):
        _check_audience(aud, accepted)
    elif aud not in accepted:
        raise InvalidToken("audience not accepted")
    sub = claims.get("sub")
    if sub is not None and (not isinstance(sub, str) or not sub):
        # An empty subject names no one: Principal.subject is "" for a token without one.
        raise InvalidToken("sub is not a non-empty string")
    for name in policy.required:
        if claims.get(name) is None:
            raise InvalidToken(f"required claim {name!r} missing")
