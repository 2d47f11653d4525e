"""Secrets from AWS Secrets Manager: key rings kept fresh, and env values read at init.

The secret holds the keys, first one signing: a JSON list (``["new", "old"]``), a JSON
object with ``"keys"``, or comma-separated text (as ``DALOY_SESSION_KEYS``). With
``include_previous`` the ``AWSPREVIOUS`` version is added as a verify-only key, so
Secrets Manager's own rotation rotates the ring without a logout storm.

>>> ring_source = SecretsManagerKeyRing("prod/session-keys", ttl=300)  # doctest: +SKIP
>>> ring = ring_source.get()                                          # doctest: +SKIP

An app configured from environment variables gets the values once per cold start with
:func:`env_with_secrets`, which reads ``<NAME>_SECRET_ARN`` into ``<NAME>``.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from daloy_edge import ConfigError, KeyRing, Secret, ServiceUnavailable, _copies
from daloy_edge._errors import register_problem
from daloy_edge_aws_lambda._stderr import warn

__all__ = [
    "ARN_SUFFIX",
    "KeyRingUnavailable",
    "SecretsClient",
    "SecretsManagerKeyRing",
    "env_with_secrets",
    "parse_key_material",
]

_NOT_FOUND = "ResourceNotFoundException"

ARN_SUFFIX = "_SECRET_ARN"
"""``<NAME>_SECRET_ARN`` names the secret :func:`env_with_secrets` reads into ``<NAME>``."""


class KeyRingUnavailable(Exception):
    """The key ring could not be loaded: Secrets Manager failed, or the secret holds no
    usable key, and no good ring is cached. A request that meets it answers 503."""


register_problem(
    KeyRingUnavailable,
    lambda exc: ServiceUnavailable("signing keys are unavailable", headers={"retry-after": "30"}),
)

_RETRY_AFTER_FAILURE = 30.0
"""Seconds a failed refresh waits before the next, while a cached ring still serves."""


class SecretsClient(Protocol):
    """The slice of a boto3 ``secretsmanager`` client used here."""

    def get_secret_value(self, **kwargs: object) -> Mapping[str, object]: ...


def parse_key_material(value: str | bytes) -> list[Secret]:
    """The keys in one secret version (see the module docs for the accepted shapes)."""
    if isinstance(value, bytes):
        return [Secret(value)] if value else []
    text = value.strip()
    if text.startswith(("[", "{")):
        try:
            document = json.loads(text)
        except ValueError:
            raise ConfigError("secret looks like JSON but does not parse") from None
        keys = document.get("keys") if isinstance(document, dict) else document
        if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
            raise ConfigError("secret JSON must be a list of strings or {'keys': [...]}")
        try:
            return [Secret(k) for k in keys]
        except UnicodeEncodeError:
            # A JSON escape can spell a lone surrogate, which no key can be made of.
            raise ConfigError("secret JSON holds a key that is not valid Unicode") from None
    return [Secret(part.strip()) for part in text.split(",") if part.strip()]


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, Mapping) else None
    return str(error.get("Code")) if isinstance(error, Mapping) else None


class SecretsManagerKeyRing:
    """A :class:`~daloy_edge.KeyRing` read from Secrets Manager and kept for ``ttl`` seconds.

    After ``ttl`` the next :meth:`get` fetches again. When a refresh fails, the last good
    ring keeps serving for up to ``max_stale`` seconds (an outage should not log every
    user out), then :meth:`get` raises. :meth:`refresh` forces a fetch, at most once per
    ``min_refresh_interval``, so a flood of bad signatures cannot hammer the API. Without
    a ring to serve, a failed fetch is not tried again for ``min_refresh_interval``
    either: meanwhile :meth:`get` raises at once, without calling Secrets Manager.

    Security: a key shorter than ``min_bytes`` is never used. In AWSCURRENT it fails the
    fetch, so the last good ring keeps serving, or :meth:`get` raises
    :class:`KeyRingUnavailable` (a 503) when there is none; in AWSPREVIOUS it is left
    out, as is a previous version that does not parse, with a warning on stderr.
    """

    def __init__(
        self,
        secret_id: str,
        *,
        client: SecretsClient | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        ttl: float = 300.0,
        max_stale: float = 3600.0,
        min_refresh_interval: float = 5.0,
        min_bytes: int = 32,
        include_previous: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not secret_id:
            raise ConfigError("secret_id is required")
        # NaN too: an interval of NaN let every forged value fetch the secret again.
        if not (ttl > 0 and max_stale >= 0 and min_refresh_interval >= 0):
            raise ConfigError("ttl must be positive; max_stale and min_refresh_interval >= 0")
        if type(min_bytes) is not int or min_bytes < 0:
            # Checked here, not at the first fetch, where it would refuse every request.
            raise ConfigError("min_bytes must be a whole number of bytes, 0 or more")
        self.secret_id = secret_id
        self.ttl = ttl
        self.max_stale = max_stale
        self.min_refresh_interval = min_refresh_interval
        self.min_bytes = min_bytes
        self.include_previous = include_previous
        self._client = client
        self._own_client_pid = None if client is not None else os.getpid()
        self._client_options = {
            "region_name": _region_of(secret_id) or region,
            "endpoint_url": endpoint_url,
        }
        self._clock = clock
        self._lock = threading.Lock()
        self._generation = _copies.generation
        self._ring: KeyRing | None = None
        self._loaded_at = 0.0
        self._attempted_at: float | None = None
        self._failed_at: float | None = None
        self._failure = ""
        self._down_since: float | None = None  # the first failed fetch since the last load
        self.fetches = 0

    def get(self) -> KeyRing:
        """The cached ring, fetched again when older than ``ttl``; raises
        :class:`KeyRingUnavailable` when no usable ring can be had. While another thread
        fetches, a cached ring within ``max_stale`` serves rather than waits."""
        if self._generation != _copies.generation:
            self._renew()
        lock = self._lock
        if not lock.acquire(blocking=False):
            # The holder is fetching, for as long as Secrets Manager takes (its timeouts
            # and retries come to about 16 s): every request would wait that long for a
            # ring no different from the one cached, and on a deadline that ends first.
            # The time before the ring, as in ``aget``: read the other way round, a refresh
            # landing between the two paired an old ring with the new time.
            loaded_at = self._loaded_at
            ring = self._ring
            if ring is not None and self._clock() - loaded_at < self.ttl + self.max_stale:
                return ring
            lock.acquire()
        try:
            now = self._clock()
            if self._ring is not None and (
                now - self._loaded_at < self.ttl or self._backing_off(now)
            ):
                return self._ring
            return self._reload(now)
        finally:
            lock.release()

    def _renew(self) -> None:
        # This process is a copy. A SnapStart restore may come days after the snapshot,
        # and the monotonic clock need not count the days between: a ring loaded at init
        # would sign for a whole ``ttl`` from the restore on, however long ago it was
        # rotated. It is loaded again (and serves only as a stale ring does, should that
        # fail). A thread of the original that held the lock at a fork would hold it
        # forever.
        self._generation = _copies.generation
        self._lock = threading.Lock()
        now = self._clock()
        self._loaded_at = min(self._loaded_at, now - self.ttl)
        self._attempted_at = self._failed_at = None
        if self._own_client_pid not in (None, os.getpid()) and self._client is not None:
            # A forked child: the client built in the parent pools the parent's
            # connection (both writing on it, each would read the other's answers). Kept,
            # not collected: its finalizers may take locks a parent thread held.
            _copies.keep(self._client)
            self._client = None
            self._own_client_pid = os.getpid()

    def _backing_off(self, now: float) -> bool:
        # After a failed refresh the cached ring serves without a new attempt for a while:
        # each attempt against a service that does not answer waits for its timeouts.
        failed = self._failed_at
        return (
            failed is not None
            and now - failed < _RETRY_AFTER_FAILURE
            and now - self._loaded_at < self.ttl + self.max_stale
        )

    async def aget(self) -> KeyRing:
        """:meth:`get` without blocking the event loop when a fetch is due."""
        if self._generation != _copies.generation:
            self._renew()
        # No lock here: a thread fetching holds it for the whole call to Secrets Manager,
        # and waiting for it on the event loop stopped every request on the loop as long.
        # ``_reload`` stores the ring before its time, so a time read first is never
        # newer than the ring read after it.
        loaded_at = self._loaded_at
        ring = self._ring
        if ring is not None and self._clock() - loaded_at < self.ttl:
            return ring
        return await asyncio.to_thread(self.get)

    def refresh(self) -> KeyRing:
        """Fetch now (rate limited by ``min_refresh_interval``), e.g. after a rotation."""
        if self._generation != _copies.generation:
            # As in ``get``: a forked worker calling this first took the parent's lock,
            # held for good if a fetch was in flight at the fork, and the parent's client.
            self._renew()
        with self._lock:
            now = self._clock()
            recent = self._attempted_at is not None and (
                now - self._attempted_at < self.min_refresh_interval
            )
            # Only a ring ``get`` would still serve: past ttl + max_stale, one whose fetch
            # had just failed was handed out again, however long ago it was rotated.
            if (
                recent
                and self._ring is not None
                and now - self._loaded_at < self.ttl + self.max_stale
            ):
                return self._ring
            return self._reload(now)

    def _reload(self, now: float) -> KeyRing:
        cached = self._ring
        if cached is not None and now - self._loaded_at >= self.ttl + self.max_stale:
            cached = None  # too old to serve through an outage
        failed = self._failed_at
        if cached is None and failed is not None and now - failed < self.min_refresh_interval:
            # No ring to serve, and the last attempt failed just now: without this every
            # request (each unauthenticated one too) made a billed call to Secrets
            # Manager, waited for its timeouts when it did not answer, and printed a line.
            raise KeyRingUnavailable(f"{self.secret_id}: {self._failure}")
        self._attempted_at = now
        try:
            ring = self._fetch()
        except Exception as exc:
            self._failed_at = now
            if self._down_since is None:
                self._down_since = now
            self._failure = reason = f"{type(exc).__name__}: {exc}"[:300]
            # Named by its secret: a function holding several rings (session keys, webhook
            # secrets) left the operator to guess which one failed.
            if cached is not None:
                left = self._loaded_at + self.ttl + self.max_stale - now
                warn(
                    f"key ring {self.secret_id}: refresh failed ({type(exc).__name__});"
                    f" serving the cached ring for up to {left:.0f} s more"
                )
                return cached
            warn(f"key ring {self.secret_id} unavailable ({reason})")
            raise KeyRingUnavailable(f"{self.secret_id}: {reason}") from None
        # The ring before its time: ``aget`` reads them without the lock, time first.
        self._ring, self._loaded_at, self._failed_at = ring, now, None
        if self._down_since is not None:
            warn(
                f"key ring {self.secret_id} loaded again, {now - self._down_since:.0f} s after"
                " its first failed fetch"
            )
            self._down_since = None
        return ring

    def _fetch(self) -> KeyRing:
        client = self._get_client()
        self.fetches += 1
        current = client.get_secret_value(SecretId=self.secret_id, VersionStage="AWSCURRENT")
        keys = _keys_of(current)
        if not keys:
            # AWSPREVIOUS is verify-only: it must never become the signing key.
            raise ConfigError(f"the AWSCURRENT version of {self.secret_id} holds no key")
        if self.include_previous:
            try:
                previous = client.get_secret_value(
                    SecretId=self.secret_id, VersionStage="AWSPREVIOUS"
                )
            except Exception as exc:
                if _error_code(exc) != _NOT_FOUND:
                    raise
            else:
                keys += self._previous_keys(previous, keys)
        return KeyRing(keys, min_bytes=self.min_bytes)

    def _previous_keys(self, response: Mapping[str, object], current: list[Secret]) -> list[Secret]:
        """The usable keys of the AWSPREVIOUS version that are not current ones.

        That version is whatever the secret held before: a placeholder it was created
        with, a value of another shape, a key from before ``min_bytes`` was raised. It
        verifies only, so what cannot verify is left out with a warning: failing the
        fetch for it refused a valid AWSCURRENT, a 503 to every request until the next
        rotation.
        """
        try:
            previous = _keys_of(response)
        except ConfigError as exc:
            warn(f"the AWSPREVIOUS version of {self.secret_id} is left out: {exc}")
            return []
        usable = [key for key in previous if len(key) >= self.min_bytes]
        if len(usable) < len(previous):
            short = len(previous) - len(usable)
            warn(
                f"{short} key(s) of the AWSPREVIOUS version of {self.secret_id} are left out:"
                f" under {self.min_bytes} bytes"
            )
        # By a set of the current keys: comparing each previous key with each current
        # one took a million comparisons for two rings of a thousand.
        listed = {key.reveal() for key in current}
        # verify: allow secret-comparisons -- both sides are keys the service sent:
        # no request's value is looked up, so the time taken tells no one anything
        return [key for key in usable if key.reveal() not in listed]

    def _get_client(self) -> SecretsClient:
        if self._client is None:
            self._client = _new_client(**self._client_options)
        return self._client


def _region_of(secret_id: str) -> str | None:
    """The region an ARN names (``arn:aws:secretsmanager:<region>:...``), None for a name.

    Secrets Manager answers only in the secret's own region: read through a client for
    another (the function's), a valid ARN is ResourceNotFound.
    """
    parts = secret_id.split(":", 4)
    if len(parts) == 5 and parts[0] == "arn" and parts[2] == "secretsmanager" and parts[3]:
        return parts[3]
    return None


def _new_client(*, region_name: str | None, endpoint_url: str | None) -> SecretsClient:
    """A boto3 ``secretsmanager`` client with short timeouts (boto3 is imported here)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 2}, connect_timeout=3, read_timeout=5)
    options = {"region_name": region_name, "endpoint_url": endpoint_url}
    chosen = {name: value for name, value in options.items() if value}
    client: SecretsClient = boto3.client("secretsmanager", config=config, **chosen)
    return client


def env_with_secrets(
    env: Mapping[str, str],
    names: Iterable[str],
    *,
    client: SecretsClient | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> dict[str, str]:
    """A copy of ``env`` in which every name of ``names`` whose ``<NAME>_SECRET_ARN`` is
    set holds that secret's current value, as the comma-separated list the app reads.

    Call it once per cold start, before the app is built from the result:

    >>> names = ["DALOY_SESSION_KEYS", "DALOY_ADMIN_PASSWORDS"]
    >>> app = create_app(env_with_secrets(os.environ, names))  # doctest: +SKIP

    The secret may hold comma-separated text, a JSON list or ``{"keys": [...]}``; the
    order is kept, so the first key still signs. boto3 is imported only when an ARN is
    set, every secret is read with ``VersionStage="AWSCURRENT"``, and without ``client``
    an ARN is read in the region it names (``region`` serves secrets given by name).

    Security: a name set both directly and by ARN refuses (``ConfigError``) rather than
    let a stale plain value shadow the managed one; so do an empty secret, a binary one,
    a key containing a comma or with whitespace around it (the app would strip it, where
    :class:`SecretsManagerKeyRing` reads it whole), and a secret that cannot be read
    (deleted, access denied, throttled). Messages name the variable, never the value.
    """
    resolved = dict(env)
    clients: dict[str | None, SecretsClient] = {}
    for name in names:
        arn = env.get(name + ARN_SUFFIX, "").strip()
        if not arn:
            continue
        if env.get(name, "").strip():
            raise ConfigError(f"{name} and {name}{ARN_SUFFIX} are both set; keep one")
        where = _region_of(arn) or region
        if where not in clients:
            clients[where] = client or _new_client(region_name=where, endpoint_url=endpoint_url)
        try:
            response = clients[where].get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
        except Exception as exc:
            # A deleted, unreadable or throttled secret fails the cold start; the operator
            # needs the variable to fix, and boto3's own error for the detail.
            reason = _error_code(exc) or type(exc).__name__
            raise ConfigError(f"{name}{ARN_SUFFIX}: the secret cannot be read ({reason})") from exc
        resolved[name] = _as_list(name, response)
    return resolved


def _as_list(name: str, response: Mapping[str, object]) -> str:
    text = response.get("SecretString")
    if not isinstance(text, str):
        raise ConfigError(f"the secret for {name} must be stored as text (SecretString)")
    try:
        keys = parse_key_material(text)
    except ConfigError as exc:
        raise ConfigError(f"the secret for {name}: {exc}") from None
    # Blank keys are left out, as the app reads the joined list: a JSON list of blanks
    # then refuses here rather than leave the variable naming no key (for sessions, a
    # random key per process in place of the managed ones).
    values = [value for key in keys if (value := key.reveal().decode("utf-8")).strip()]
    if not values:
        raise ConfigError(f"the secret for {name} is empty")
    if any("," in value for value in values):
        raise ConfigError(f"a value in the secret for {name} contains a comma")
    if any(value[:1].isspace() or value[-1:].isspace() for value in values):
        # The app reads the list with KeyRing.from_csv, which strips each key, while
        # SecretsManagerKeyRing reads the secret's keys whole: the two would sign with
        # different keys, each refusing every value the other signed.
        raise ConfigError(f"a value in the secret for {name} has a space or line break around it")
    return ",".join(values)


def _keys_of(response: Mapping[str, object]) -> list[Secret]:
    text = response.get("SecretString")
    if isinstance(text, str):
        return parse_key_material(text)
    binary = response.get("SecretBinary")
    if isinstance(binary, bytes):
        return parse_key_material(binary)
    return []
