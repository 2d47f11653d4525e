"""Secrets that never print themselves, and key rings for rotation."""

from __future__ import annotations

from daloy_edge._errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["KeyRing", "Secret"]


class Secret:
    """A secret value whose ``repr`` and ``str`` are masked.

    Security: compare with :meth:`equals` (constant time), never ``==``.

    >>> Secret("hunter2")
    Secret('***')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes) -> None:
        if isinstance(value, str):
            self._value = value.encode("utf-8")
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self._value = bytes(value)
        else:
            # bytes(64) is 64 zero bytes: a number read from a config file would be a key
            # everyone knows, long enough to pass every length check.
            raise TypeError("a secret is str or bytes")

    def reveal(self) -> bytes:
        """The raw bytes; keep them out of logs and error messages."""
        return self._value

    def equals(self, other: bytes | str | Secret) -> bool:
        """Constant-time comparison."""
        if isinstance(other, Secret):
            other = other.reveal()
        elif isinstance(other, str):
            # A Lambda event's JSON can spell a lone surrogate in a header: strict UTF-8
            # raised, and the request answered 500. No valid text encodes to those bytes.
            other = other.encode("utf-8", "surrogatepass")
        import hmac

        return hmac.compare_digest(self._value, other)

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self.equals(other)

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: object) -> Secret:
        # Immutable, so a copy is the same secret, as for str. copy falls back to
        # __reduce__ otherwise, which refuses: deep-copying any configuration or model
        # holding a Secret (pydantic's model_copy(deep=True)) raised "not picklable".
        return self

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Secret values are not picklable")

    def __getstate__(self) -> object:
        # Every object has one since Python 3.11, returning its slots: serialisers that
        # fall back to it when __reduce__ refuses (jsonpickle) wrote the raw bytes out.
        raise TypeError("Secret values are not picklable")


class KeyRing:
    """Ordered secrets: the first signs, every one verifies (rotation without a logout storm).

    An empty key refuses to build, whatever ``min_bytes`` says.

    >>> ring = KeyRing.from_csv("k" * 32 + "," + "o" * 32, min_bytes=32)
    >>> len(ring)
    2
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Iterable[Secret | str | bytes], *, min_bytes: int = 0) -> None:
        if isinstance(keys, (str, bytes, bytearray, memoryview, Secret)):
            # Iterated, "hunter2" would be a ring of one-character keys, each accepted as
            # a password or a signing key by itself.
            raise ConfigError("a key ring takes a list of keys: KeyRing([key]) or from_csv")
        if type(min_bytes) is not int or min_bytes < 0:
            # A NaN compares False, and the length check would pass every key.
            raise ConfigError("min_bytes must be a whole number of bytes, 0 or more")
        ring = tuple(k if isinstance(k, Secret) else Secret(k) for k in keys)
        if not ring:
            raise ConfigError("a key ring needs at least one key")
        for key in ring:
            if not key:
                # What a missing variable gives: as a password it let in everyone who
                # sent the user name, nothing after the colon.
                raise ConfigError("a key ring holds no empty key")
            if len(key) < min_bytes:
                raise ConfigError(f"every key must be at least {min_bytes} bytes")
        self._keys = ring

    @classmethod
    def from_csv(cls, value: str, *, min_bytes: int = 0) -> KeyRing:
        """Parse a comma-separated list (the first is the signing key)."""
        return cls([part.strip() for part in value.split(",") if part.strip()], min_bytes=min_bytes)

    @property
    def primary(self) -> Secret:
        """The signing key."""
        return self._keys[0]

    def __iter__(self) -> Iterator[Secret]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing(<{len(self._keys)} keys>)"
