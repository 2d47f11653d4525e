"""Compact JWS parsing (RFC 7515) and the header rules every token must pass."""

from __future__ import annotations

import json
from collections.abc import Collection

from daloy_edge._json import MAX_JSON_DEPTH, UnsafeJSON, _float, _lone_surrogate, parse_json
from daloy_edge._record import record
from daloy_edge.jose._algorithms import ALGORITHMS, Algorithm
from daloy_edge.jose._b64 import b64url_decode
from daloy_edge.jose._errors import InvalidToken
from daloy_edge.jose._jwk import MAX_KID_LENGTH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from daloy_edge.types import JSON


__all__ = [
    "ACCESS_TOKEN_TYPES",
    "DEFAULT_MAX_TOKEN_BYTES",
    "REFUSED_HEADERS",
    "CompactJWS",
    "check_header",
    "decode_json_segment",
    "decode_object_segment",
    "parse_compact",
    "split_compact",
]

DEFAULT_MAX_TOKEN_BYTES = 8192

REFUSED_HEADERS = frozenset({"crit", "jwk", "jku", "x5u", "x5c", "zip", "b64", "enc", "epk"})
"""Header members refused outright: extensions we do not implement (``crit``, ``b64``),
keys or key URLs supplied by the token itself (never trusted, never fetched), and the
JWE members (``enc``, ``epk``, ``zip``)."""


ACCESS_TOKEN_TYPES = frozenset({"jwt", "jose", "at+jwt"})
"""The ``typ`` values (lowercase, no ``application/``) accepted when none are configured:
``at+jwt`` (RFC 9068), the generic ``JWT`` most providers put on access tokens and the
generic ``JOSE`` (RFC 7515 4.1.9; SPIFFE JWT-SVIDs may carry it), which name no kind. A
token typed as another kind of JWT its issuer signs with the same keys (``logout+jwt``,
``secevent+jwt``, ``dpop+jwt``, ``token-introspection+jwt``) is no access token, whatever
its claims say (explicit typing, RFC 8725 3.11)."""


@record(frozen=True)
class CompactJWS:
    """A structurally valid compact JWS; the payload is decoded only after verification."""

    header: dict[str, JSON]
    payload_b64: str
    signing_input: bytes
    signature: bytes


_POLLUTING_KEYS = frozenset({"__proto__", "constructor", "prototype"})


def _object(pairs: list[tuple[str, JSON]]) -> dict[str, JSON]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise UnsafeJSON("duplicate object key")
    if not _POLLUTING_KEYS.isdisjoint(result):
        raise UnsafeJSON("prototype-pollution key")
    return result


def _constant(name: str) -> JSON:
    raise UnsafeJSON(f"{name} is not JSON")


# The rules of daloy_edge.parse_json with C-speed hooks, for the per-request segments:
# integers need no hook because a segment is bounded by the token size and int() refuses
# more than 4300 digits; floats get parse_json's own (digit count and range, as float()
# reads any number of digits), called only for a number written as a float.
_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_float=_float, parse_constant=_constant)


_SCAN: Callable[[str, int], tuple[JSON, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def decode_json_segment(segment: str, what: str) -> dict[str, JSON]:
    """Strict base64url, then hardened JSON (no duplicate keys) that must be an object."""
    return decode_object_segment(segment, what)[0]


def decode_object_segment(segment: str, what: str) -> tuple[dict[str, JSON], bool]:
    """:func:`decode_json_segment`, and whether the object is certainly flat.

    Flat means no member holds an object or an array. ``False`` is not proof of the
    opposite: it is also the answer when a string merely contains ``[`` or ``{``.
    """
    try:
        raw = b64url_decode(segment)
    except ValueError:
        raise InvalidToken(f"{what} is not canonical base64url") from None
    try:
        value, flat = _parse(raw)
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, UnsafeJSON) else "malformed JSON"
        raise InvalidToken(f"{what} is not acceptable JSON: {reason}") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"{what} is not a JSON object")
    return value, flat


def _parse(raw: bytes) -> tuple[JSON, bool]:
    text = raw.decode("utf-8")
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        # Possibly deep: parse_json measures the nesting before any recursive parser
        # sees it (deep enough, it would end a WebAssembly interpreter).
        return parse_json(raw), False
    # The scanner alone when it reads the whole text (a compact JSON object, as issuers
    # write them); the full decoder, which allows surrounding whitespace and words every
    # error, otherwise.
    value: JSON
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        end = -1
    if end != len(text):
        value = _DECODER.decode(text)
    # As parse_json: valid UTF-8 holds no surrogate, so only a \u escape can make one, and
    # a lone one is no Unicode text (a handler writing that claim out failed with a 500).
    if "\\u" in text and _lone_surrogate(text):
        raise UnsafeJSON("lone surrogate")
    # No "[" at all and no "{" after the first character: nothing nests, so the depth is
    # at most one and no member holds a container. Two memchr-speed tests.
    return value, "[" not in text and "{" not in text[1:]


def split_compact(
    token: str, *, max_bytes: int = DEFAULT_MAX_TOKEN_BYTES
) -> tuple[str, str, bytes, bytes]:
    """``(header_b64, payload_b64, signing_input, signature)`` of a compact JWS.

    Refused with :class:`InvalidToken`: more than ``max_bytes`` characters, non-ASCII,
    anything but exactly three segments (so JWE and detached payloads), empty segments
    (so unsigned tokens) and a signature that is not canonical base64url.
    """
    if len(token) > max_bytes:
        raise InvalidToken("token too large")
    if not token.isascii():
        raise InvalidToken("token is not ASCII")
    # Partitioning finds each dot at memchr speed; counting or splitting would walk the
    # token character by character.
    signing, _, signature_b64 = token.rpartition(".")
    header_b64, dot, payload_b64 = signing.partition(".")
    if not dot or "." in payload_b64:
        raise InvalidToken("not a compact JWS")
    if not header_b64 or not payload_b64:
        raise InvalidToken("empty header or payload")
    if not signature_b64:
        raise InvalidToken("unsigned token")
    try:
        signature = b64url_decode(signature_b64)
    except ValueError:
        raise InvalidToken("signature is not canonical base64url") from None
    return header_b64, payload_b64, signing.encode("ascii"), signature


def parse_compact(token: str, *, max_bytes: int = DEFAULT_MAX_TOKEN_BYTES) -> CompactJWS:
    """Split and decode ``header.payload.signature``; :class:`InvalidToken` if malformed.

    See :func:`split_compact`; the header must also be a duplicate-free JSON object.
    """
    header_b64, payload_b64, signing_input, signature = split_compact(token, max_bytes=max_bytes)
    header = decode_json_segment(header_b64, "header")
    return CompactJWS(header, payload_b64, signing_input, signature)


def check_header(
    header: dict[str, JSON],
    algorithms: Collection[str],
    typ: Collection[str] | None = None,
) -> tuple[Algorithm, str]:
    """Apply the header rules; returns the algorithm and the ``kid``.

    ``alg`` must be one of ``algorithms`` (``none`` in any casing never is), ``kid`` a
    printable string, no member of :data:`REFUSED_HEADERS`, no nested JWT (``cty``),
    and ``typ`` one of ``typ`` when given (compared case-insensitively, without an
    ``application/`` prefix). Without ``typ``, a ``typ`` header is refused unless it is
    one of :data:`ACCESS_TOKEN_TYPES`.
    """
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise InvalidToken("alg missing")
    if alg.lower() == "none":
        raise InvalidToken("alg none refused")
    spec = ALGORITHMS.get(alg)
    if spec is None or alg not in algorithms:
        raise InvalidToken("alg not allowed")
    refused = REFUSED_HEADERS.intersection(header)
    if refused:
        raise InvalidToken(f"header member {sorted(refused)[0]!r} refused")
    cty = header.get("cty")
    if cty is not None and (not isinstance(cty, str) or _typ(cty) == "jwt"):
        raise InvalidToken("nested tokens refused")
    token_type = header.get("typ")
    if typ is None:
        if token_type is not None and _typ(token_type) not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("typ names another kind of token")
    elif _typ(token_type) not in typ:
        raise InvalidToken("typ not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("kid missing")
    if len(kid) > MAX_KID_LENGTH or not (kid.isascii() and kid.isprintable()):
        raise InvalidToken("kid malformed")
    return spec, kid


def _typ(value: JSON) -> str | None:
    if not isinstance(value, str):
        return None
    lowered = value.lower()
    return lowered.removeprefix("application/")
