"""Webhook signature verification on the raw body, with replay refusal.

>>> from daloy_edge import KeyRing
>>> verify = VerifyWebhook(WebhookConfig(secrets=KeyRing(["s" * 32])))
"""

from __future__ import annotations

import time
from _collections_abc import Mapping  # collections.abc would import collections

from daloy_edge._errors import ConfigError, HTTPError, ServiceUnavailable, Unauthorized
from daloy_edge._record import field, record
from daloy_edge._request import Request
from daloy_edge._response import Response
from daloy_edge._secrets import KeyRing
from daloy_edge.nonce_store import MemoryNonceStore
from daloy_edge.signing import BadSignature

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterable

    from daloy_edge.types import CallNext, Clock, NonceStore
    from daloy_edge.webhooks import Scheme, VerifiedWebhook


__all__ = ["WEBHOOK_STATE", "VerifyWebhook", "WebhookConfig"]

WEBHOOK_STATE = "daloy.webhook"
"""``request.state`` key holding the :class:`~daloy_edge.webhooks.VerifiedWebhook`."""
WEBHOOK_REASON = "daloy.webhook_refused"
"""``request.state`` key with the reason a delivery was refused (for logs, not clients)."""

# Both edges of the tolerance accept, in whole seconds: a stamp at the future edge when
# it arrives is still accepted at the past edge until that second ends, up to
# 2 * tolerance + 1 s later, so its replay key lives a second longer than that (which also
# covers small clock differences between instances).
_REPLAY_MARGIN_S = 2.0
_FORGET_GRACE_S = 0.25
_WARN_EVERY_S = 10.0


@record(frozen=True, kw_only=True)
class WebhookConfig:
    """Secrets, scheme, timestamp tolerance and the replay store.

    ``secrets``: a ring (every secret verifies, so a provider's rotation has no gap).
    ``tolerance``: seconds a timestamp may be off, into the past or the future.
    ``store``: remembers deliveries (memory by default; a shared Upstash/Redis store for
    more than one instance). ``replay_ttl`` bounds how long GitHub deliveries, which carry
    no timestamp, are remembered.
    """

    secrets: KeyRing
    scheme: Scheme = "timestamped"
    tolerance: float = 300
    store: NonceStore = field(default_factory=MemoryNonceStore)
    replay_ttl: float = 24 * 3600
    min_secret_bytes: int = 16
    clock: Clock = time.time

    def __post_init__(self) -> None:
        if self.scheme not in ("timestamped", "github", "standard"):
            raise ConfigError("scheme must be 'timestamped', 'github' or 'standard'")
        if not 0 < self.tolerance <= 3600:
            raise ConfigError("tolerance must be between 0 and 3600 seconds")
        if not self.replay_ttl >= 2 * self.tolerance:  # NaN too: nothing would be kept
            raise ConfigError("replay_ttl must cover the tolerance window both ways")
        if not self.min_secret_bytes >= 1:  # NaN too: no secret would be too short
            raise ConfigError("min_secret_bytes must be positive")
        for secret in self.secrets:
            if len(secret) < self.min_secret_bytes:
                raise ConfigError(f"webhook secrets must be at least {self.min_secret_bytes} bytes")
        if self.scheme == "standard":
            from daloy_edge.webhooks import _standard_secret

            # A "whsec_" secret signs with the bytes its base64 decodes to, fewer than its
            # characters: "whsec_" alone was an empty key that passed a minimum of 6.
            for secret in self.secrets:
                value = secret.reveal()
                key = _standard_secret(value)
                if key is value and value.startswith(b"whsec_"):
                    # Not base64 after the prefix (a character lost in a copy): its text
                    # would be the key, and every delivery, signed with the key the base64
                    # stands for, refused without a word.
                    raise ConfigError("a whsec_ webhook secret is whsec_ followed by base64")
                if len(key) < self.min_secret_bytes:
                    raise ConfigError(
                        f"webhook secrets must be at least {self.min_secret_bytes} bytes "
                        "(a whsec_ secret: once decoded)"
                    )


class VerifyWebhook:
    """401 unless the delivery's signature verifies over the raw body, its timestamp is
    within tolerance and it was not delivered before.

    The verified delivery is in ``request.state[WEBHOOK_STATE]``; the handler parses the
    body only afterwards. Security: every failure is the same opaque 401. A delivery whose
    handling fails (an exception, a 5xx answer, a streamed body that fails, the request
    deadline, a replay store that did not answer) is forgotten again, so the sender's
    retry is handled: the event is not lost to the replay check.
    """

    __slots__ = ("_unwarned", "_warned_at", "config")

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self._warned_at = -_WARN_EVERY_S
        self._unwarned = 0

    def _ttl(self, delivery: VerifiedWebhook) -> float:
        if delivery.timestamp is None:
            return self.config.replay_ttl
        return 2 * self.config.tolerance + _REPLAY_MARGIN_S

    async def verify(self, request: Request) -> VerifiedWebhook:
        """The verified delivery; raises 401 (reason kept in ``request.state``)."""
        from daloy_edge.webhooks import _OutsideTolerance, verify_webhook

        body = await request.body()
        config = self.config
        try:
            delivery = verify_webhook(
                config.scheme,
                # Repeated lines read as one field, as HTTP APIs and Workers hand them
                # over: no runtime skips a line that another one reads.
                request.headers.get_joined,
                body,
                config.secrets,
                now=config.clock(),
                tolerance=config.tolerance,
            )
        except BadSignature as exc:
            stale = isinstance(exc, _OutsideTolerance)
            raise _refused(request, "timestamp" if stale else "signature") from None
        key = "webhook:" + delivery.replay_key
        try:
            fresh = await config.store.add_if_absent(key, self._ttl(delivery))
        except BaseException as exc:
            # The store may have recorded the delivery though its answer never came (a
            # timeout, a reset, the request deadline): forget it, or the sender's retry
            # would be refused as a replay and the event lost.
            await self._forget(request, delivery)
            if not isinstance(exc, Exception):
                raise
            # Without the replay store a replay cannot be told apart: refuse with 503 so
            # the sender retries later, never accept unchecked.
            _note(request, "replay-store-unavailable")
            raise ServiceUnavailable(
                "webhook replay store unavailable", headers={"retry-after": "5"}
            ) from None
        if not fresh:
            raise _refused(request, "replay")
        return delivery

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        delivery = request.state[WEBHOOK_STATE] = await self.verify(request)
        try:
            response = await call_next(request)
        except BaseException as exc:
            if _failed(exc):
                await self._forget(request, delivery)
            raise
        if response.status >= 500:
            await self._forget(request, delivery)
        elif response.stream is not None:
            response.stream = _ForgetOnFailure(self, request, delivery, response.stream)
        return response

    async def _forget(self, request: Request, delivery: VerifiedWebhook) -> None:
        """Forget a delivery whose handling failed (an error, a 5xx, the deadline): the
        sender's retry of it is then handled rather than refused as a replay, and the
        event is not lost. A 4xx keeps it: a retry would be refused alike. Past the
        request's deadline the store gets a short grace, not its own timeout."""
        discard = getattr(self.config.store, "discard", None)
        if discard is None:
            return  # a store written before discard existed keeps the key
        from daloy_edge import _timeout  # asyncio only when handling failed

        try:
            async with _timeout.timeout(_forget_budget(request)):
                await discard("webhook:" + delivery.replay_key)
        except Exception as exc:
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        # At most one line every 10 s, as the rate limiter's: in a store outage every
        # signed delivery fails to be forgotten, and each wrote a line of its own.
        self._unwarned += 1
        now = self.config.clock()
        # Not just later than the last warning: a clock stepped back would silence it.
        if 0 <= now - self._warned_at < _WARN_EVERY_S:
            return
        import logging

        from daloy_edge.ratelimit._base import StoreUnavailable

        # The toolkit's stores describe their failures without secrets; another store's
        # error may carry its connection URL, password and all: its type alone is told.
        known = isinstance(exc, StoreUnavailable) and str(exc)
        logging.getLogger("daloy_edge.webhooks").warning(
            "webhook replay store unavailable (%s): a failed delivery may stay recorded, "
            "and its retry be refused as a replay (%d failures since last log)",
            known or type(exc).__name__,
            self._unwarned,
        )
        self._warned_at, self._unwarned = now, 0


class _ForgetOnFailure:
    """A handler's streamed body that forgets its delivery when it fails to be made.

    Read whole (Lambda, Cloud Functions, Workers) a failing stream is a 500, and sent as
    made (ASGI) it cuts the body off: the sender retries either way, and its retry was
    refused as a replay, the event lost. Closed by its reader (a HEAD, a client that
    left), it is no failure of the handling.
    """

    __slots__ = ("_chunks", "_delivery", "_request", "_verify")

    def __init__(
        self,
        verify: VerifyWebhook,
        request: Request,
        delivery: VerifiedWebhook,
        stream: AsyncIterable[bytes | str],
    ) -> None:
        self._verify: VerifyWebhook | None = verify
        self._request = request
        self._delivery = delivery
        self._chunks = aiter(stream)

    def __aiter__(self) -> _ForgetOnFailure:
        return self

    async def __anext__(self) -> bytes | str:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            raise
        except BaseException as exc:
            verify, self._verify = self._verify, None
            if verify is not None and _failed(exc):
                await verify._forget(self._request, self._delivery)
            raise

    async def aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()


def _failed(exc: BaseException) -> bool:
    """Whether ``exc`` failed the handling of a delivery (an HTTP 4xx refused it: a retry
    would be refused alike, so the delivery stays recorded)."""
    return not isinstance(exc, HTTPError) or exc.status >= 500


def _forget_budget(request: Request) -> float | None:
    """Seconds a delivery's forgetting may take: what is left of the request's deadline,
    and at least a short grace once it has passed. A store slow enough to outlast the
    deadline is likely slow still, and waiting out its own timeout (Upstash: 1 s) held the
    504 that long past the deadline; on Lambda, past the 500 ms the deadline leaves for
    answering, so the platform ended the invocation with no answer and no log line."""
    if request.deadline is None:
        return None
    return max(request.deadline - time.monotonic(), _FORGET_GRACE_S)


def _note(request: Request, reason: str) -> None:
    """Keep why a delivery was refused in ``request.state`` and in the request's log line:
    the client's 401 is the same for all, so the log is where a replay is told apart from
    a wrong secret."""
    request.state[WEBHOOK_REASON] = reason
    given = request.state.get("log.attributes")
    attributes = dict(given) if isinstance(given, Mapping) else {}
    attributes["daloy.webhook.refused"] = reason
    request.state["log.attributes"] = attributes


def _refused(request: Request, reason: str) -> Unauthorized:
    _note(request, reason)
    return Unauthorized("invalid webhook signature", slug="webhook-signature")
