"""HTTP Basic authentication (RFC 7617) with password rotation."""

from __future__ import annotations

from daloy_edge._charset import Charset, has_control, span
from daloy_edge._errors import ConfigError, Unauthorized
from daloy_edge._phased import Phased
from daloy_edge._record import record
from daloy_edge._request import Request
from daloy_edge._secrets import KeyRing
from daloy_edge.middleware._credentials import MalformedCredentials, credentials_for
from daloy_edge.principal import Principal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


__all__ = ["BasicAuth", "BasicAuthConfig"]

# Printable ASCII without '"' and '\\' (the realm is sent in a quoted string).
_REALM = Charset(span(" ", "~").replace('"', "").replace("\\", ""), max_len=64)
_CONTROL_BYTES = bytes(range(0x20)) + b"\x7f"


@record(frozen=True, kw_only=True)
class BasicAuthConfig:
    """Users and their accepted passwords: each user maps to a :class:`~daloy_edge.KeyRing`
    (several passwords are accepted at once, for rotation)."""

    users: Mapping[str, KeyRing]
    realm: str = "restricted"
    max_credentials_bytes: int = 4096

    def __post_init__(self) -> None:
        if not self.users:
            raise ConfigError("basic auth needs at least one user")
        for user, ring in self.users.items():
            if not user or ":" in user or has_control(user):
                raise ConfigError("user names must be non-empty, without ':' or control chars")
            if not isinstance(ring, KeyRing):
                raise ConfigError("each user maps to a KeyRing of passwords")
        if not _REALM.fullmatch(self.realm):
            raise ConfigError("realm must be 1-64 printable characters without quotes")
        if not self.max_credentials_bytes > 0:  # NaN too: no header would exceed it
            raise ConfigError("max_credentials_bytes must be positive")


def _digest(label: bytes, value: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(label + b"\x00" + value).digest()


def _nfc(text: str) -> str:
    """``text`` in Normalization Form C: what ``charset="UTF-8"`` asks clients to send
    (RFC 7617), applied on both sides, so "é" typed as e and a combining accent (as some
    keyboards and file names give it) matches a configured "é" and the reverse."""
    import unicodedata

    return unicodedata.normalize("NFC", text)


# UAX #15's stream-safe text: at most 30 combining characters in a row. Normalising sorts a
# run of them in time quadratic in its length.
_MAX_MARKS_IN_A_ROW = 30
# Tibetan vowel signs of combining class 0 that decompose to two combining marks (UAX #15's
# non-starter decompositions): read by their class alone, a run of them passed as no run.
_TWO_MARKS = frozenset("\u0f73\u0f75\u0f81")


def _stream_safe(text: str) -> bool:
    """True when no more than 30 combining characters, as they decompose, follow one
    another in ``text``."""
    from unicodedata import combining

    run = 0
    for char in text:
        if combining(char):
            run += 1
        elif char in _TWO_MARKS:
            run += 2
        else:
            run = 0
            continue
        if run > _MAX_MARKS_IN_A_ROW:
            return False
    return True


def _nfc_bytes(value: bytes) -> bytes:
    if value.isascii():
        return value
    try:
        return _nfc(value.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:  # a bytes password no UTF-8 client can send anyway
        return value


_a2b_base64: Callable[..., bytes] | None = None
"""``binascii.a2b_base64``, bound by the first request that carries credentials:
``binascii`` is not loaded at a cold start, and a function-level import would cost
every request a lookup."""


def _bind_a2b_base64() -> Callable[..., bytes]:
    global _a2b_base64
    import binascii

    _a2b_base64 = binascii.a2b_base64
    return _a2b_base64


def _decode(credentials: str, limit: int) -> tuple[str, str]:
    if len(credentials) > limit:
        raise MalformedCredentials("credentials too long")
    a2b_base64 = _a2b_base64 or _bind_a2b_base64()
    try:
        raw = a2b_base64(credentials.encode("ascii"), strict_mode=True)
        text = raw.decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeError both are ValueErrors
        raise MalformedCredentials("credentials are not base64 of UTF-8") from None
    if not text.isascii():
        if not _stream_safe(text):
            # No one types that; the 1,500 marks 4 KB of credentials hold took 5 ms to
            # sort, and a larger max_credentials_bytes four times longer for each doubling.
            raise MalformedCredentials("more than 30 combining characters in a row")
        text = _nfc(text)
    user, colon, password = text.partition(":")
    if not colon or not user:
        raise MalformedCredentials("credentials are not user:password")
    # UTF-8 encodes every other character with bytes of 0x80 and above, so the bytes hold
    # a C0 control or DEL exactly when the text does.
    if len(raw.translate(None, _CONTROL_BYTES)) != len(raw):
        raise MalformedCredentials("control character in credentials")
    return user, password


class BasicAuth(Phased):
    """Require ``Authorization: Basic`` credentials of a configured user.

    Both sides are hashed before ``hmac.compare_digest``, so comparison time reveals
    neither length nor content, and every user and password is compared on every
    request, so it does not reveal which users exist either. Any malformed header is a
    401 with ``WWW-Authenticate: Basic realm=...``, never a 500.
    """

    sets_principal = True  # read by rate limits keyed by principal
    refuses_anonymous = True  # read by CORS, whose preflights carry no credentials
    __slots__ = ("_challenge", "_config", "_limit", "_users")

    def __init__(self, config: BasicAuthConfig) -> None:
        self._config = config
        # Hashed on the first request, so building the app loads no hash module.
        self._users: list[tuple[str, bytes, tuple[bytes, ...]]] | None = None
        self._limit = config.max_credentials_bytes
        self._challenge = {"www-authenticate": f'Basic realm="{config.realm}", charset="UTF-8"'}

    def before(self, request: Request) -> None:
        try:
            credentials = credentials_for(request, "basic")
            if credentials is None:
                raise MalformedCredentials("no basic credentials")
            user, password = _decode(credentials, self._limit)
            request.principal = Principal(self._check(user, password), scheme="basic")
        except MalformedCredentials as exc:
            request.state["error"] = exc
            raise Unauthorized("valid credentials are required", headers=self._challenge) from None

    def _digests(self) -> list[tuple[str, bytes, tuple[bytes, ...]]]:
        users = self._users
        if users is None:
            users = self._users = [
                (
                    user,
                    _digest(b"user", _nfc_bytes(user.encode("utf-8"))),
                    tuple(_digest(b"password", _nfc_bytes(secret.reveal())) for secret in ring),
                )
                for user, ring in self._config.users.items()
            ]
        return users

    def _check(self, user: str, password: str) -> str:
        import hmac

        offered_user = _digest(b"user", user.encode("utf-8"))
        offered_password = _digest(b"password", password.encode("utf-8"))
        matched: str | None = None
        for name, user_digest, password_digests in self._digests():
            user_ok = hmac.compare_digest(user_digest, offered_user)
            password_ok = False
            for candidate in password_digests:
                password_ok |= hmac.compare_digest(candidate, offered_password)
            # ``&``, not ``and``: a wrong user skipped reading password_ok, two
            # instructions fewer than a known user with a wrong password.
            if user_ok & password_ok:
                matched = name
        if matched is None:
            raise MalformedCredentials("unknown user or wrong password")
        return matched
