"""Bytes and text at the Lambda boundary: paths, request bodies, response bodies."""

from __future__ import annotations

from daloy_edge import BadRequest
from daloy_edge._charset import ALNUM, allowed
from daloy_edge._lazy import LazyPattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from re import Match

__all__ = ["decode_body", "encode_body", "raw_path", "raw_query"]

# A character that can never stand literally in a percent-encoded path. REST APIs,
# Function URLs and ALB deliver the path as the client sent it, still encoded: escaping
# only these leaves it untouched, and a "%" that starts no escape stays for the core to
# refuse (400), as it does from every other runtime.
_NOT_IN_ENCODED_PATH = LazyPattern(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]")
# HTTP APIs deliver it decoded (twice over: the client's "%252e" arrives as "."), where
# every "%" left is a literal percent sign, one that starts an escape too: the client's
# "%25252e" arrives as "%2e", and read as an escape it was decoded once more (a "." the
# gateway never delivered reached the app). Escaped, the core's checks and the app see
# the path the gateway delivered.
_NOT_IN_DECODED_PATH = LazyPattern(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/]")
# The same characters but "%": a path of only these (most paths) needs no regex, checked
# with ``daloy_edge._charset``'s expression written out as every request runs it.
_PLAIN_PATH = allowed(ALNUM + "-._~!$&'()*+,;=:@/")

_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/problem+json",
        "application/javascript",
        "application/ecmascript",
        "application/xml",
        "application/x-www-form-urlencoded",
        "image/svg+xml",
    }
)


# Event text is JSON, which can carry a lone surrogate (``"\\udc80"``) no UTF-8 encoder
# accepts. Such text is encoded to the bytes it stands for, as the core reads header
# values: invalid UTF-8, which the core refuses in a path (400) and a body parser refuses
# in a body, instead of an exception before the app could answer.
_SURROGATES = "surrogatepass"


def _escape(match: Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group(0).encode("utf-8", _SURROGATES))


def raw_path(path: str | None, decoded: bool) -> str:
    """``path`` as a percent-encoded request path; ``decoded`` when the service decoded it."""
    if not path:
        return "/"
    if path.isascii() and path.encode().translate(_PLAIN_PATH).isalnum():
        return path
    unsafe = _NOT_IN_DECODED_PATH if decoded else _NOT_IN_ENCODED_PATH
    if unsafe.search(path) is None:
        return path
    return unsafe.sub(_escape, path)


def raw_query(query: str) -> str:
    """``query`` with every character past ASCII percent-encoded as its UTF-8 bytes.

    HTTP APIs, Function URLs and ALB hand the query over as text, and JSON can spell a
    lone surrogate in it: taken as it was, the app read the surrogate itself, where the
    same bytes sent escaped (``%ED%B2%80``) or through a REST API read as invalid UTF-8
    (U+FFFD), as from every other runtime. A request target holds no other character.
    """
    if query.isascii():
        return query
    return _NOT_ASCII.sub(_escape, query)


_NOT_ASCII = LazyPattern(r"[^\x00-\x7f]+")


async def _refuse_body() -> AsyncIterator[bytes]:
    raise BadRequest("request body is not valid base64")
    yield b""  # pragma: no cover - makes this an async generator


def decode_body(body: object, is_base64: object) -> bytes | AsyncIterator[bytes]:
    """The request body as bytes; invalid base64 surfaces as a 400 when it is read, and a
    body that is not text or an ``is_base64`` that is not a boolean raises ``TypeError``
    (a malformed event)."""
    if not body:
        return b""
    if not isinstance(body, str):
        # Every service sends the body as a string. A hand-built event's object (the JSON
        # before json.dumps) was read as no body at all: the route ran on an empty one.
        raise TypeError("the body is not text")
    if is_base64 is not True:
        if is_base64 is not False and is_base64 is not None:
            # Every service sends a JSON boolean; the string "false" is true, and read
            # as base64 it turned a text body into other bytes.
            raise TypeError("isBase64Encoded is not a boolean")
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            return body.encode("utf-8", _SURROGATES)
    # Imported here: only base64-encoded (binary) bodies need it.
    import binascii

    try:
        return binascii.a2b_base64(body.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError):
        return _refuse_body()


def _is_text(content_type: str | None) -> bool:
    media = (content_type or "").partition(";")[0].strip().lower()
    if not media:
        return True
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))


# ``_is_text`` per Content-Type value seen: an app answers with a handful of them. Bounded,
# since a handler may echo a client's value; full, it starts over rather than stop
# learning (kept full, 64 echoed values kept every type first seen later off it for good).
_TEXT_BY_TYPE: dict[str | None, bool] = {}
_TEXT_BY_TYPE_MAX = 64


def encode_body(body: bytes, content_type: str | None, content_encoding: bool) -> tuple[str, bool]:
    """The response body for the event result and whether it is base64.

    Compressed (``content_encoding``) and binary media are always base64; text that is
    not valid UTF-8 is too, so no byte is ever lost or replaced on the way out.
    """
    if not body:
        return "", False
    if not content_encoding:
        text = _TEXT_BY_TYPE.get(content_type)
        if text is None:
            text = _is_text(content_type)
            if len(_TEXT_BY_TYPE) >= _TEXT_BY_TYPE_MAX:
                _TEXT_BY_TYPE.clear()
            _TEXT_BY_TYPE[content_type] = text
        if text:
            try:
                return body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
    import binascii

    return binascii.b2a_base64(body, newline=False).decode("ascii"), True
