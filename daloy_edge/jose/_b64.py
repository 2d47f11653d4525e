"""Strict base64url (RFC 7515 section 2): unpadded, canonical, alphabet-checked."""

from __future__ import annotations

import base64
import binascii

__all__ = ["b64url_decode", "b64url_encode"]

_PADDING = ("", "", "==", "=")
# Characters whose unused low bits are zero: the only canonical last characters when
# the encoded length leaves 4 (length % 4 == 2) or 2 (length % 4 == 3) spare bits.
_LAST_OF_2 = frozenset("AQgw")
_LAST_OF_3 = frozenset("AEIMQUYcgkosw048")
# By length % 4; only 2 and 3 are consulted.
_LAST: tuple[frozenset[str], ...] = (frozenset(), frozenset(), _LAST_OF_2, _LAST_OF_3)
_a2b = binascii.a2b_base64


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; raises ``ValueError`` on anything non-canonical.

    Refused: padding, ``+`` and ``/``, whitespace and any other non-alphabet character,
    a length of 1 mod 4, and set trailing bits (so one byte string has one encoding).

    >>> b64url_decode("aGk")
    b'hi'
    """
    size = len(text) % 4
    if size > 1 and text[-1] not in _LAST[size]:
        raise ValueError("not canonical base64url")
    # Standard base64's own characters are refused first, so that after "-" and "_" are
    # mapped onto them strict decoding checks exactly the base64url alphabet. Each test
    # and replacement is a memchr-speed scan, where a byte-by-byte translation is not.
    if "+" in text or "/" in text or "=" in text:
        raise ValueError("not canonical base64url")
    try:
        return _a2b(text.replace("-", "+").replace("_", "/") + _PADDING[size], strict_mode=True)
    except ValueError:  # binascii.Error, or a str with non-ASCII characters
        raise ValueError("not canonical base64url") from None


def b64url_encode(data: bytes) -> str:
    """Encode without padding.

    >>> b64url_encode(b"hi")
    'aGk'
    """
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
