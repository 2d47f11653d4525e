"""Redis over the Upstash REST protocol: one HTTP POST per command, on any runtime.

The protocol is a JSON array of command arguments POSTed with ``Authorization: Bearer``;
the reply is ``{"result": ...}`` or ``{"error": "..."}``. :class:`UpstashREST` speaks it
over an :class:`~daloy_edge.transport.HTTPTransport` (httpx on CPython, ``fetch`` on
Workers). The stores also accept an ``upstash_redis.asyncio.Redis`` client, which has
the same ``execute(command)`` method; build it with ``rest_retries=0`` so the store's
timeout, not the client's retry loop, decides how long a check may take.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from contextvars import ContextVar
from os import urandom
from typing import Protocol
from urllib.parse import urlsplit

from daloy_edge import _timeout
from daloy_edge._charset import allowed, only, span
from daloy_edge._errors import ConfigError
from daloy_edge._json import UnsafeJSON, parse_json
from daloy_edge._netaddr import is_loopback_host
from daloy_edge._secrets import Secret
from daloy_edge.ratelimit._base import Algorithm, Quota, StoreUnavailable, Verdict, hashed_key
from daloy_edge.transport import HTTPTransport, TransportError, default_transport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge.types import JSON


__all__ = ["UpstashCommands", "UpstashError", "UpstashNonceStore", "UpstashREST", "UpstashStore"]

# What a URL or a header value can carry as it is: no space, control or non-ASCII byte.
_VISIBLE = allowed(span("!", "~"))

_CLAIM: ContextVar[tuple[str, str] | None] = ContextVar("daloy_nonce_claim", default=None)
"""The hashed key and claim of the last nonce this context (a request's task) added."""

_DELETE_IF_CLAIMED = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


class UpstashError(Exception):
    """Redis or the endpoint refused a command; the message is Redis' (``NOSCRIPT ...``)."""


class UpstashCommands(Protocol):
    """Anything that runs one Redis command per call: :class:`UpstashREST`, or an
    ``upstash_redis.asyncio.Redis`` client."""

    async def execute(self, command: list[str]) -> object:
        """Run ``command``; raise with Redis' error text as the message."""
        ...


class UpstashREST:
    """An Upstash REST endpoint reached through an :class:`HTTPTransport`.

    >>> rest = UpstashREST("https://eu1-example.upstash.io", "token")
    >>> store = UpstashStore(rest)

    ``timeout`` bounds one HTTP call; the store's own timeouts (1 s a check, 5 s for an
    instance's first, which also pays for DNS and TLS) are the ones that decide.

    Security: the token is sent only over https, or plain http to a loopback address
    (local development); anything else needs ``insecure_http=True``.
    """

    __slots__ = ("_headers", "_own_transport", "_transport", "max_bytes", "timeout", "url")

    def __init__(
        self,
        url: str,
        token: Secret | str,
        *,
        transport: HTTPTransport | None = None,
        timeout: float = 5.0,
        max_bytes: int = 64 * 1024,
        insecure_http: bool = False,
    ) -> None:
        _check_url(url, insecure_http=insecure_http)
        secret = token if isinstance(token, Secret) else Secret(token)
        if not len(secret):
            raise ConfigError("the Upstash token is empty")
        if not only(secret.reveal().decode("utf-8", "replace"), _VISIBLE):
            # A secret file's trailing newline, say: no request could carry it, so every
            # check would fail and the failure policy would stand in for the limit.
            raise ConfigError(
                "the Upstash token must be printable ASCII with no space or line break"
            )
        if not (timeout > 0 and max_bytes > 0):  # NaN too: no answer would pass them
            raise ConfigError("timeout and max_bytes must be positive")
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._transport = transport
        self._own_transport = transport is None
        self._headers = {
            "authorization": "Bearer " + secret.reveal().decode("utf-8"),
            "content-type": "application/json",
        }

    def __repr__(self) -> str:
        return f"UpstashREST({self.url!r})"

    def __reduce__(self) -> tuple[object, ...]:
        # The token sits in clear in the header every call sends: pickled, deep-copied or
        # written out by a serialiser that reads the state, the client carried it along.
        raise TypeError("UpstashREST holds its token and is not picklable")

    def __getstate__(self) -> object:
        raise TypeError("UpstashREST holds its token and is not picklable")

    async def aclose(self) -> None:
        """Close the HTTP client this made for itself (register it with
        ``app.on_shutdown``); a transport passed in is its owner's to close."""
        close = getattr(self._transport, "aclose", None) if self._own_transport else None
        if close is not None:
            await close()

    async def execute(self, command: list[str]) -> JSON:
        """Send one command and return its result; :class:`UpstashError` otherwise."""
        if self._transport is None:
            self._transport = default_transport()
        body = json.dumps(command, separators=(",", ":")).encode("utf-8")
        try:
            response = await self._transport.request(
                "POST",
                self.url,
                headers=self._headers,
                body=body,
                timeout=self.timeout,
                max_bytes=self.max_bytes,
            )
        except TransportError as exc:
            raise UpstashError(f"transport: {exc}") from None
        try:
            reply = parse_json(response.body)
        except UnsafeJSON:
            raise UpstashError(f"HTTP {response.status} without a JSON reply") from None
        if isinstance(reply, dict) and isinstance(reply.get("error"), str):
            # The text is the endpoint's and ends up in the failure's log line: a proxy
            # that echoes the credentials it refused must not put the token there.
            token = self._headers["authorization"].removeprefix("Bearer ")
            raise UpstashError(str(reply["error"]).replace(token, "[REDACTED]"))
        if response.status != 200 or not isinstance(reply, dict) or "result" not in reply:
            raise UpstashError(f"HTTP {response.status} without a result")
        return reply["result"]


class UpstashStore:
    """Rate-limit counters in Redis, shared by every instance: exactly one round trip
    per check (``EVALSHA``; ``EVAL`` once more only when Redis lost the script).

    ``timeout`` bounds a whole check (``first_timeout`` the instance's first ones, those
    begun before any has ended: they also pay for importing the HTTP client, DNS and the
    TLS handshake, a burst for a connection each); past it, or on any error, the check
    raises :class:`~daloy_edge.ratelimit.StoreUnavailable` and the limiter's failure
    policy decides.
    """

    __slots__ = ("_budget", "_commands")

    def __init__(
        self, commands: UpstashCommands, *, timeout: float = 1.0, first_timeout: float = 5.0
    ) -> None:
        self._budget = _Budget(timeout, first_timeout)
        self._commands = commands

    async def check(
        self, algorithm: Algorithm, keys: Sequence[str], now_ms: int, quota: Quota
    ) -> Verdict:
        """Run ``algorithm``'s script (see :class:`~daloy_edge.ratelimit.RateLimitStore`)."""
        tail = [str(len(keys)), *keys, str(now_ms), *map(str, quota)]
        budget = self._budget.next()
        try:
            async with _timeout.timeout(budget):
                reply = await self._run(algorithm, tail)
        except TimeoutError:
            raise StoreUnavailable(f"no answer within {budget}s") from None
        finally:
            self._budget.cold = False
        return _verdict(reply, quota.limit)

    async def _run(self, algorithm: Algorithm, tail: list[str]) -> object:
        try:
            return await self._commands.execute(["EVALSHA", algorithm.sha1, *tail])
        except Exception as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise StoreUnavailable(_describe(exc)) from None
        try:
            return await self._commands.execute(["EVAL", algorithm.script, *tail])
        except Exception as exc:
            raise StoreUnavailable(_describe(exc)) from None


class UpstashNonceStore:
    """A :class:`~daloy_edge.types.NonceStore` in Redis (``SET key <claim> NX PX ttl``),
    so a webhook delivery replayed to any instance is refused.

    Raises :class:`~daloy_edge.ratelimit.StoreUnavailable` when Redis cannot answer
    within ``timeout`` (``first_timeout`` for the first calls): callers should then
    refuse, not accept, the message.

    Security: :meth:`discard` after :meth:`add_if_absent` in the same request (task)
    deletes the key only while it still holds that call's claim, a random value: an add
    whose answer was lost may have found the key recorded by a concurrent copy of the
    delivery, and deleting that copy's record would let the next replay through.
    """

    __slots__ = ("_budget", "_commands", "prefix")

    def __init__(
        self,
        commands: UpstashCommands,
        *,
        prefix: str = "daloy:nonce:",
        timeout: float = 1.0,
        first_timeout: float = 5.0,
    ) -> None:
        self._budget = _Budget(timeout, first_timeout)
        self._commands = commands
        self.prefix = prefix

    async def add_if_absent(self, key: str, ttl_s: float) -> bool:
        """Record ``key`` for ``ttl_s`` seconds; False when it was already there.

        Raises :class:`StoreUnavailable` when Redis fails, or answers neither ``OK`` nor nil
        (True or False through an ``upstash_redis`` client).
        """
        ttl_ms = str(max(1, math.ceil(ttl_s * 1000)))
        name, claim = hashed_key(self.prefix, key), urandom(12).hex()
        # Before the command goes out: if its answer is lost, this request's discard must
        # still tell its own record from a concurrent copy's.
        _CLAIM.set((name, claim))
        command = ["SET", name, claim, "NX", "PX", ttl_ms]
        budget = self._budget.next()
        try:
            async with _timeout.timeout(budget):
                reply = await self._commands.execute(command)
        except TimeoutError:
            raise StoreUnavailable(f"no answer within {budget}s") from None
        except Exception as exc:
            raise StoreUnavailable(_describe(exc)) from None
        finally:
            self._budget.cold = False
        # "OK" or nil over REST; True or False from an ``upstash_redis`` client, which
        # turns SET's reply into a bool.
        if reply == "OK" or reply is True:
            return True
        if reply is None or reply is False:
            return False
        # SET NX answers nothing else: refusing the delivery as a replay on a broken
        # store's word would lose the event, where a 503 has the sender retry.
        raise StoreUnavailable("unexpected reply to SET NX")

    async def discard(self, key: str) -> None:
        """Forget ``key``: only the record this request's :meth:`add_if_absent` made, if
        it added ``key``, else whatever is there (``DEL``); raises
        :class:`StoreUnavailable` as adding does."""
        name = hashed_key(self.prefix, key)
        claimed = _CLAIM.get()
        if claimed is not None and claimed[0] == name:
            command = ["EVAL", _DELETE_IF_CLAIMED, "1", name, claimed[1]]
        else:
            command = ["DEL", name]
        budget = self._budget.next()
        try:
            async with _timeout.timeout(budget):
                await self._commands.execute(command)
        except TimeoutError:
            raise StoreUnavailable(f"no answer within {budget}s") from None
        except Exception as exc:
            raise StoreUnavailable(_describe(exc)) from None
        finally:
            self._budget.cold = False


class _Budget:
    """How long a store may wait: longer until its first call ends, so one cold start
    (and the burst that arrived with it) is not a failure while a dead Redis still costs
    every later request just ``timeout``."""

    __slots__ = ("_first", "cold", "timeout")

    def __init__(self, timeout: float, first_timeout: float) -> None:
        if not (timeout > 0 and first_timeout > 0):  # NaN too
            raise ConfigError("timeouts must be positive")
        self.timeout = timeout
        self._first = max(timeout, first_timeout)
        self.cold = True  # until a call ends: none is pooled yet, each pays a connection

    def next(self) -> float:
        return self._first if self.cold else self.timeout


def _verdict(reply: object, limit: int) -> Verdict:
    if (
        isinstance(reply, list)
        and len(reply) == 4
        and all(isinstance(v, int) and not isinstance(v, bool) for v in reply)
    ):
        # A broken or tampered store's count must not reach the RateLimit field as a
        # negative or larger-than-quota ``r``.
        remaining = min(max(reply[1], 0), limit)
        return Verdict(bool(reply[0]), remaining, reply[2], reply[3])
    raise StoreUnavailable("unexpected reply to the rate-limit script")


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _check_url(url: str, *, insecure_http: bool) -> None:
    # ``urlsplit`` drops tabs and line breaks that the HTTP client then refuses.
    if not only(url, _VISIBLE):
        raise ConfigError("the Upstash URL must be printable ASCII with no space or line break")
    try:
        parts = urlsplit(url)  # raises ValueError for an unclosed IPv6 bracket
        port = parts.port  # raises ValueError for a port out of range
    except ValueError:
        raise ConfigError("the Upstash URL has an invalid host or port") from None
    if port == 0:
        raise ConfigError("the Upstash URL has an invalid port (no connection can use 0)")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError("the Upstash URL must be an absolute http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("the Upstash URL must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not insecure_http and not is_loopback_host(parts.hostname):
        raise ConfigError("the Upstash URL must use https (the token would travel in clear)")
