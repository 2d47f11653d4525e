"""HMAC-SHA256 signing over a key ring: the first key signs, every key verifies.

Pure: bytes and an explicit ``now`` in, bytes or :class:`BadSignature` out. Sessions, CSRF
tokens and other signed values build on it; each use names a ``purpose`` so a value
signed for one purpose never verifies for another.

>>> from daloy_edge import KeyRing
>>> signer = Signer(KeyRing(["k" * 32]), purpose="demo")
>>> token = signer.sign(b"hello", now=1_700_000_000)
>>> signer.verify(token, now=1_700_000_010, max_age=60).payload
b'hello'
"""

from __future__ import annotations

from daloy_edge._charset import ALNUM, allowed
from daloy_edge._errors import ConfigError
from daloy_edge._record import record
from daloy_edge._secrets import KeyRing

TYPE_CHECKING = False
if TYPE_CHECKING:
    import hmac

__all__ = ["MIN_KEY_BYTES", "BadSignature", "Signer", "Verified", "b64decode", "b64encode"]

MIN_KEY_BYTES = 32
"""Shortest key a :class:`Signer` accepts (the HMAC-SHA256 block security level)."""

BASE64URL = allowed(ALNUM + "_-")
"""``allowed`` table of the URL-safe base64 alphabet (no padding)."""
_MAX_TOKEN = 16384
# base64url <-> base64, so binascii does the work without importing ``base64``; binascii
# itself is imported where it is used, by the first request that signs or verifies.
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


class BadSignature(Exception):
    """The value is not authentic: tampered, truncated, expired, from the future or
    signed by an unknown key. One error for every cause, so callers leak no oracle."""

    def __init__(self) -> None:
        super().__init__("bad signature")


def b64encode(data: bytes) -> str:
    """Unpadded URL-safe base64 (cookie- and header-safe)."""
    import binascii

    encoded = binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE)
    return encoded.rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict inverse of :func:`b64encode`; :class:`BadSignature` for anything else."""
    if not text.isascii() or len(text) % 4 == 1:
        raise BadSignature()
    encoded = text.encode()
    # The ``only`` check written out (session and CSRF checks run this per request).
    if encoded and not encoded.translate(BASE64URL).isalnum():
        raise BadSignature()
    import binascii

    try:
        padded = (encoded + b"=" * (-len(encoded) % 4)).translate(_FROM_URLSAFE)
        data = binascii.a2b_base64(padded, strict_mode=True)
    except (binascii.Error, ValueError):
        raise BadSignature() from None
    if b64encode(data) != text:
        raise BadSignature()
    return data


@record(frozen=True)
class Verified:
    """An authentic value: its payload, signing time and which key verified it."""

    payload: bytes
    timestamp: int
    key_index: int

    @property
    def needs_resign(self) -> bool:
        """True when an older key verified it: re-sign with the first key."""
        return self.key_index > 0


class Signer:
    """Signs and verifies values with HMAC-SHA256 and timestamps.

    Each key of ``keys`` must be at least :data:`MIN_KEY_BYTES` long (shorter ones refuse
    to build). The keys actually used are derived per ``purpose``, so a session cookie
    can never be replayed as a CSRF token or the other way round.

    Security: verification compares in constant time and raises one opaque
    :class:`BadSignature` for every failure.
    """

    __slots__ = ("_derived", "_label", "_ring", "max_clock_skew")

    def __init__(self, keys: KeyRing, *, purpose: str, max_clock_skew: float = 60.0) -> None:
        if not purpose:
            raise ConfigError("a signer needs a purpose")
        if not isinstance(keys, KeyRing):
            # A list of str passed the length check and failed every request that signed.
            raise ConfigError("signing keys must be a KeyRing: KeyRing([key]) or from_csv")
        for key in keys:
            if len(key) < MIN_KEY_BYTES:
                raise ConfigError(f"signing keys must be at least {MIN_KEY_BYTES} bytes")
        if not max_clock_skew >= 0:  # NaN too: no timestamp would be too far ahead
            raise ConfigError("max_clock_skew must not be negative")
        self._ring = keys
        self._label = b"daloy-edge/signing/" + purpose.encode("utf-8")
        self._derived: tuple[hmac.HMAC, ...] | None = None
        self.max_clock_skew = max_clock_skew

    def __repr__(self) -> str:
        return f"Signer(<{len(self._ring)} keys>)"

    def _keys(self) -> tuple[hmac.HMAC, ...]:
        # Derived on first use, not when the app is built: a cold start that serves no
        # signed value never loads OpenSSL's hashes. Deriving twice is harmless.
        derived = self._derived
        if derived is None:
            import hashlib
            import hmac

            label = self._label
            derived = tuple(
                hmac.new(hmac.new(k.reveal(), label, hashlib.sha256).digest(), None, hashlib.sha256)
                for k in self._ring
            )
            self._derived = derived
        return derived

    def mac(self, message: bytes) -> bytes:
        """The 32-byte MAC of ``message`` under the signing key."""
        h = self._keys()[0].copy()
        h.update(message)
        return h.digest()

    def verify_mac(self, message: bytes, mac: bytes) -> int:
        """The index of the key whose MAC of ``message`` equals ``mac``; else BadSignature."""
        import hmac

        # Stopping at the first match reveals only which key matched, which is no secret.
        for index, key in enumerate(self._keys()):
            h = key.copy()
            h.update(message)
            if hmac.compare_digest(h.digest(), mac):
                return index
        raise BadSignature()

    def sign(self, payload: bytes, *, now: float) -> str:
        """``<payload>.<timestamp>.<mac>``, each part unpadded URL-safe base64."""
        head = b64encode(payload) + "." + b64encode(int(now).to_bytes(8, "big").lstrip(b"\0"))
        return head + "." + b64encode(self.mac(head.encode("ascii")))

    def verify(self, token: str, *, now: float, max_age: float | None) -> Verified:
        """Check ``token`` and return its payload; BadSignature on any failure.

        ``max_age`` seconds bound its age; timestamps more than ``max_clock_skew``
        seconds in the future are refused too.
        """
        parts = token.split(".", 3) if len(token) <= _MAX_TOKEN else []
        if len(parts) != 3:
            raise BadSignature()
        payload_text, stamp_text, mac_text = parts
        head = f"{payload_text}.{stamp_text}".encode("ascii", "replace")
        index = self.verify_mac(head, b64decode(mac_text))
        stamp = b64decode(stamp_text)
        if len(stamp) > 8:
            raise BadSignature()
        timestamp = int.from_bytes(stamp, "big")
        check_age(timestamp, now=now, max_age=max_age, skew=self.max_clock_skew)
        return Verified(b64decode(payload_text), timestamp, index)


def check_age(timestamp: float, *, now: float, max_age: float | None, skew: float) -> None:
    """BadSignature when ``timestamp`` is older than ``max_age`` or too far in the future."""
    if timestamp > now + skew:
        raise BadSignature()
    if max_age is not None and now - timestamp > max_age:
        raise BadSignature()
