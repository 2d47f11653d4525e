"""HTTP Basic authentication (RFC 7617) with password rotation."""

from __future__ import annotations

import binascii
import re

from daloy_edge._errors import ConfigError, Unauthorized
from daloy_edge._record import record
from daloy_edge._request import Request
from daloy_edge._response import Response
from daloy_edge._secrets import KeyRing
from daloy_edge.middleware._credentials import MalformedCredentials, credentials_for
from daloy_edge.principal import Principal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from daloy_edge.types import CallNext


__all__ = ["BasicAuth", "BasicAuthConfig"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REALM = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}")


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
            if not user or ":" in user or _CONTROL.search(user):
                raise ConfigError("user names must be non-empty, without ':' or control chars")
            if not isinstance(ring, KeyRing):
                raise ConfigError("each user maps to a KeyRing of passwords")
        if not _REALM.fullmatch(self.realm):
            raise ConfigError("realm must be 1-64 printable characters without quotes")
        if self.max_credentials_bytes <= 0:
            raise ConfigError("max_credentials_bytes must be positive")


def _digest(label: bytes, value: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(label + b"\x00" + value).digest()


def _decode(credentials: str, limit: int) -> tuple[str, str]:
    if len(credentials) > limit:
        raise MalformedCredentials("credentials too long")
    try:
        text = binascii.a2b_base64(credentials.encode("ascii"), strict_mode=True).decode("utf-8")
    except (binascii.Error, UnicodeError):
        raise MalformedCredentials("credentials are not base64 of UTF-8") from None
    user, colon, password = text.partition(":")
    if not colon or not user:
        raise MalformedCredentials("credentials are not user:password")
    if _CONTROL.search(text):
        raise MalformedCredentials("control character in credentials")
    return user, password


class BasicAuth:
    """Require ``Authorization: Basic`` credentials of a configured user.

    Both sides are hashed before ``hmac.compare_digest``, so comparison time reveals
    neither length nor content, and every user and password is compared on every
    request, so it does not reveal which users exist either. Any malformed header is a
    401 with ``WWW-Authenticate: Basic realm=...``, never a 500.
    """

    __slots__ = ("_challenge", "_config", "_limit", "_users")

    def __init__(self, config: BasicAuthConfig) -> None:
        self._config = config
        # Hashed on the first request, so building the app loads no hash module.
        self._users: list[tuple[str, bytes, tuple[bytes, ...]]] | None = None
        self._limit = config.max_credentials_bytes
        self._challenge = {"www-authenticate": f'Basic realm="{config.realm}", charset="UTF-8"'}

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        try:
            credentials = credentials_for(request, "basic")
            if credentials is None:
                raise MalformedCredentials("no basic credentials")
            user, password = _decode(credentials, self._limit)
            request.principal = Principal(self._check(user, password), scheme="basic")
        except MalformedCredentials as exc:
            request.state["error"] = exc
            raise Unauthorized("valid credentials are required", headers=self._challenge) from None
        return await call_next(request)

    def _digests(self) -> list[tuple[str, bytes, tuple[bytes, ...]]]:
        users = self._users
        if users is None:
            users = self._users = [
                (
                    user,
                    _digest(b"user", user.encode("utf-8")),
                    tuple(_digest(b"password", secret.reveal()) for secret in ring),
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
            if user_ok and password_ok:
                matched = name
        if matched is None:
            raise MalformedCredentials("unknown user or wrong password")
        return matched
