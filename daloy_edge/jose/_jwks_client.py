"""A JWKS client that survives key rotation, IdP outages and kid-spraying clients."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from _contextvars import Context  # contextvars only re-exports it
from collections.abc import Mapping
from concurrent.futures import Future
from urllib.parse import urlsplit

from daloy_edge import _copies
from daloy_edge._errors import ConfigError
from daloy_edge._netaddr import is_loopback_host
from daloy_edge.jose._errors import InvalidKey, KeysUnavailable
from daloy_edge.jose._jwk import JWK, JWKSet
from daloy_edge.transport import HTTPTransport, TransportError, default_transport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge.jose._outage import OutageLog
    from daloy_edge.types import Clock


__all__ = ["JWKSClient", "cache_ttl"]

_ACCEPT = {"accept": "application/jwk-set+json, application/json"}


def cache_ttl(
    headers: Mapping[str, str], *, default: float, minimum: float, maximum: float
) -> float:
    """Seconds to keep a response: ``Cache-Control: max-age`` less ``Age``, clamped.

    ``no-store`` / ``no-cache`` mean the minimum; a missing or malformed ``max-age``
    means ``default``.

    >>> cache_ttl({"Cache-Control": "public, max-age=600"}, default=300, minimum=60, maximum=3600)
    600.0
    """
    control, age = "", ""
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "cache-control":
            control = value
        elif lowered == "age":
            age = value.strip()
    ttl = default
    for directive in control.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.lower()
        if name in ("no-store", "no-cache"):
            return float(minimum)
        if name == "max-age" and value.isdigit() and value.isascii() and len(value) <= 10:
            ttl = int(value)
    if age.isdigit() and age.isascii() and len(age) <= 10:
        ttl -= int(age)
    return float(min(max(ttl, minimum), maximum))


class JWKSClient:
    """Fetch and cache a JWKS over an :class:`~daloy_edge.transport.HTTPTransport`.

    - HTTPS only, except to a loopback host (``allow_insecure_http=True`` lifts that);
      redirects are not followed.
    - Keys live for ``Cache-Control: max-age`` clamped to ``[min_ttl_s, max_ttl_s]``.
    - An unknown ``kid`` triggers a refetch at most once per ``refetch_cooldown_s``; a
      ``kid`` still unknown after a refetch that succeeded is remembered (``negative_ttl_s``)
      so random kids cannot make us hammer the IdP.
    - Concurrent callers share one fetch (single flight), on other threads' event loops too.
    - A failed refresh keeps the last good keys for ``stale_if_error_s`` and retries at
      most every ``error_backoff_s``; with nothing usable :class:`KeysUnavailable` is raised.
      While a refresh is under way, a kid the cached keys hold is answered from them.
    - Each fetch is bounded by ``timeout_s`` and ``max_bytes``.

    >>> client = JWKSClient("https://idp.example/.well-known/jwks.json")
    """

    def __init__(
        self,
        url: str,
        *,
        transport: HTTPTransport | None = None,
        allow_insecure_http: bool = False,
        clock: Clock = time.monotonic,
        timeout_s: float = 5.0,
        max_bytes: int = 256 * 1024,
        max_keys: int = 100,
        min_rsa_bits: int = 2048,
        default_ttl_s: float = 300.0,
        min_ttl_s: float = 60.0,
        max_ttl_s: float = 86400.0,
        refetch_cooldown_s: float = 30.0,
        negative_ttl_s: float = 300.0,
        max_negative: int = 1024,
        error_backoff_s: float = 5.0,
        stale_if_error_s: float = 6 * 3600.0,
    ) -> None:
        _check_url(url, allow_insecure_http)
        if not 0 < min_ttl_s <= default_ttl_s <= max_ttl_s:
            raise ConfigError("need 0 < min_ttl_s <= default_ttl_s <= max_ttl_s")
        for name, value in (
            ("timeout_s", timeout_s),
            ("max_bytes", max_bytes),
            ("max_keys", max_keys),
            ("max_negative", max_negative),
        ):
            if not value > 0:  # NaN too: no wait, body or key count would pass it
                raise ConfigError(f"{name} must be positive")
        for name, value in (
            ("refetch_cooldown_s", refetch_cooldown_s),
            ("negative_ttl_s", negative_ttl_s),
            ("error_backoff_s", error_backoff_s),
            ("stale_if_error_s", stale_if_error_s),
        ):
            # NaN too: a cooldown of NaN let each unknown kid fetch the keys again.
            if not value >= 0:
                raise ConfigError(f"{name} must not be negative")
        self.url = url
        self._own_transport = transport is None
        # The runtime's transport is looked up at the first fetch, not here: a client built
        # at import (a module-level app, on Workers one in the deploy-time snapshot) came
        # before the adapter installs ``fetch`` as the default, and kept httpx for good.
        self._transport: HTTPTransport | None = transport
        self._clock = clock
        self._timeout, self._max_bytes = timeout_s, max_bytes
        self._max_keys, self._min_rsa_bits = max_keys, min_rsa_bits
        self._ttl = (default_ttl_s, min_ttl_s, max_ttl_s)
        self._cooldown, self._negative_ttl = refetch_cooldown_s, negative_ttl_s
        self._max_negative = max_negative
        self._backoff, self._stale = error_backoff_s, stale_if_error_s
        self._keys: JWKSet | None = None
        self._expires_at = -math.inf
        self._last_attempt = -math.inf
        self._retry_at = -math.inf
        self._negative: dict[str, float] = {}
        # The fetch in flight, and its outcome for callers on other threads' event loops.
        self._inflight: tuple[asyncio.Task[None], Future[None]] | None = None
        self._lock = threading.Lock()
        self._generation = _copies.generation
        self.fetches = 0
        """Completed fetch attempts (successful or not), for metrics and tests."""
        self.last_error: str | None = None
        """Why the most recent fetch failed (no secrets), or ``None`` after a success."""
        self._outage: OutageLog | None = None  # made by the first failed fetch

    async def get_key(self, kid: str) -> JWK | None:
        """The key for ``kid`` (``None`` if unknown); :class:`KeysUnavailable` if no keys."""
        if self._generation != _copies.generation:
            self._renew()
        now = self._clock()
        keys = self._keys
        if keys is not None and now < self._expires_at:
            key = keys.get(kid)
            return key if key is not None else await self._unknown(kid, now)
        flight = self._inflight
        if flight is not None and keys is not None and now < self._expires_at + self._stale:
            # A refresh another request began is under way: the cached key serves meanwhile.
            # Joined, every request waited on an issuer slow to answer for up to timeout_s
            # (5 s), and one that never answered held them so half of the time. The request
            # that began it waits, so the fetch makes progress on every runtime; one left on
            # a parked loop (its request cut off) is no refresh under way, and is replaced.
            key = keys.get(kid)
            if key is not None and _joinable(flight[0], asyncio.get_running_loop()):
                return key
        if self._inflight is not None or now >= self._retry_at:
            await self._refresh()
            now = self._clock()
        keys = self._usable(now)
        key = keys.get(kid)
        if key is None:
            self._remember_unknown(kid, now)
        return key

    async def refresh(self) -> None:
        """Fetch now (joining a fetch in flight); errors are kept in :attr:`last_error`."""
        await self._refresh()

    async def aclose(self) -> None:
        """Close the HTTP client this made for itself (register it with
        ``app.on_shutdown``); a transport passed in is its owner's to close."""
        close = getattr(self._transport, "aclose", None) if self._own_transport else None
        if close is not None:
            await close()

    def _renew(self) -> None:
        # This process is a copy. A SnapStart restore may come days after the snapshot,
        # and the monotonic clock need not count the days between: keys fetched at init
        # would be served for the rest of their lifetime from the restore on, a key the
        # IdP withdrew meanwhile included. So they are fetched again (and serve only as
        # stale keys do, should that fail). The lock and any fetch in flight belong to
        # the original's threads: one that held the lock at a fork would hold it forever.
        self._generation = _copies.generation
        self._lock = threading.Lock()
        self._inflight = None
        self._expires_at = min(self._expires_at, self._clock())
        self._last_attempt = self._retry_at = -math.inf
        self._negative.clear()

    async def _unknown(self, kid: str, now: float) -> JWK | None:
        if self._inflight is None:
            until = self._negative.get(kid)
            if until is not None and now < until:
                return None
            if now - self._last_attempt < self._cooldown or now < self._retry_at:
                return None
        await self._refresh()
        now = self._clock()
        key = self._usable(now).get(kid)
        if key is None:
            self._remember_unknown(kid, now)
        return key

    def _remember_unknown(self, kid: str, now: float) -> None:
        if self.last_error is not None:
            # The refetch failed, so the kid may well be the IdP's new key: remembered, its
            # tokens were refused for negative_ttl_s after the JWKS answered again. The
            # cooldown and the back-off bound the refetches meanwhile.
            return
        negative = self._negative
        if len(negative) >= self._max_negative:
            # Worker threads (functions-framework) may pick the same oldest kid at once,
            # or find the cache emptied by a refresh since: neither may raise (a 500).
            negative.pop(next(iter(negative), ""), None)
        negative[kid] = now + self._negative_ttl

    def _usable(self, now: float) -> JWKSet:
        if self._keys is None or now >= self._expires_at + self._stale:
            raise KeysUnavailable(f"no usable JWKS: {self.last_error or 'never fetched'}")
        return self._keys

    async def _refresh(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            flight = self._inflight
            if flight is None or not _joinable(flight[0], loop):
                self._last_attempt = self._clock()
                done: Future[None] = Future()
                done.set_running_or_notify_cancel()  # a waiter's cancellation stays its own
                # In an empty context: the fetch is every waiting request's, and in a copy
                # of its starter's it held that request's context variables (its log
                # record) until the fetch, and its timeout's timer, were over. Run inside
                # it rather than passed as context=, which Pyodide 0.26's loop refuses.
                flight = (Context().run(loop.create_task, self._fetch(done)), done)
                self._inflight = flight
        task, done = flight
        if task.get_loop() is loop:
            await asyncio.shield(task)
        else:
            # Threaded servers (functions-framework) run a loop per worker thread: wait
            # for that thread's fetch rather than start another, as long as a fetch lasts.
            await asyncio.wait((asyncio.wrap_future(done),), timeout=self._timeout)

    async def _fetch(self, done: Future[None]) -> None:
        # Begun on the loop's next turn, once recorded as in flight. An eager task factory
        # (Python 3.12) runs a task's first step inside ``create_task``, under the lock
        # ``_refresh`` holds: a fetch that ended without waiting (a URL httpx refuses)
        # then took that lock again below, and its thread (the event loop) hung for good.
        await asyncio.sleep(0)
        try:
            keys, ttl = await asyncio.wait_for(self._download(), self._timeout)
        except Exception as exc:
            # A transport of the app's own may fail with errors of its own (a socket's
            # ConnectionResetError): raised from here, each request was a 500, with no
            # stale keys served and no back-off, one fetch per request. Their text is
            # no failure this client describes: their type alone is kept.
            known = isinstance(exc, TransportError | TimeoutError | InvalidKey)
            self.last_error = f"{type(exc).__name__}: {exc}" if known else type(exc).__name__
            now = self._clock()
            self._retry_at = now + self._backoff
            usable = None if self._keys is None else self._expires_at + self._stale - now
            self._report_failure(self.last_error, now, usable)
        else:
            now = self._clock()
            self._keys = keys
            self._expires_at = now + ttl
            self._negative.clear()
            self.last_error = None
            self._retry_at = -math.inf
            if self._outage is not None:
                self._outage.recovered(now)
        finally:
            self.fetches += 1
            with self._lock:
                if self._inflight is not None and self._inflight[1] is done:
                    self._inflight = None
            done.set_result(None)

    def _report_failure(self, reason: str, now: float, usable_for_s: float | None) -> None:
        outage = self._outage
        if outage is None:
            from daloy_edge.jose._outage import OutageLog

            outage = self._outage = OutageLog(self.url)
        outage.failed(reason, now, usable_for_s)

    async def _download(self) -> tuple[JWKSet, float]:
        transport = self._transport
        if transport is None:
            transport = self._transport = default_transport()
        response = await transport.request(
            "GET", self.url, headers=_ACCEPT, timeout=self._timeout, max_bytes=self._max_bytes
        )
        if response.status != 200:
            raise TransportError(f"status {response.status}")
        if len(response.body) > self._max_bytes:
            raise TransportError("response too large")
        keys = JWKSet.parse(response.body, max_keys=self._max_keys, min_rsa_bits=self._min_rsa_bits)
        default, minimum, maximum = self._ttl
        ttl = cache_ttl(response.headers, default=default, minimum=minimum, maximum=maximum)
        return keys, ttl

    def __repr__(self) -> str:
        return f"JWKSClient({self.url!r})"


def _joinable(task: asyncio.Task[None], loop: asyncio.AbstractEventLoop) -> bool:
    """Whether a caller on ``loop`` can wait for ``task`` (not on a closed or parked loop)."""
    owner = task.get_loop()
    return owner is loop or (owner.is_running() and not task.done())


def _check_url(url: str, allow_insecure_http: bool) -> None:
    # urlsplit drops tabs and line breaks (a trailing newline from a secrets file) that
    # httpx refuses: the URL checked here would not be the one every fetch fails on.
    if any(char.isspace() or not char.isprintable() for char in url):
        raise ConfigError("JWKS URL must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # a port out of range raises ValueError too
    except ValueError:
        raise ConfigError("JWKS URL is malformed") from None
    if port == 0:
        raise ConfigError("JWKS URL is malformed")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise ConfigError("JWKS URL must use https (plain http only to a loopback host)")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError("JWKS URL must be an absolute https URL")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ConfigError("JWKS URL must not carry credentials or a fragment")
