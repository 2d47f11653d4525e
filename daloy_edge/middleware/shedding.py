"""Load shedding: a concurrency cap with a short queue, and 503 at once for the excess.

>>> from daloy_edge import App
>>> app = App()
>>> app.use(LoadShedding(LoadSheddingConfig(max_concurrent=64, exempt_paths=("/health",))))

Under overload, answering some requests quickly beats answering all of them late: each
admitted request keeps its latency, the rest get ``503`` with ``Retry-After`` and can go
to another instance. The cap counts requests in flight in this instance, on every worker
thread's event loop of a threaded server (functions-framework) too.
"""

from __future__ import annotations

import time
from _contextvars import Context  # contextvars only re-exports it
from _thread import allocate_lock

from daloy_edge._errors import ConfigError, ServiceUnavailable
from daloy_edge._record import record
from daloy_edge._request import Request
from daloy_edge._response import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections import deque

    from daloy_edge.types import CallNext, Clock

__all__ = ["LoadShedding", "LoadSheddingConfig"]

_BATCH = 16
_INF = float("inf")
_DECREASE = 0.75


@record(frozen=True, kw_only=True)
class LoadSheddingConfig:
    """How much concurrent work to admit.

    At most ``max_concurrent`` requests run at once; up to ``max_queue`` more wait, each
    at most ``queue_timeout`` seconds (and never past half the time left before the
    request's deadline, so that it is shed with 503 rather than cut off with 504), in
    arrival order. Anything beyond gets 503 with ``Retry-After: retry_after`` without
    waiting. Paths in ``exempt_paths`` (health checks) are never counted or shed.

    ``adaptive=True`` starts the cap at ``max_concurrent`` and, every 16 completed
    requests, cuts it by a quarter when their 90th-percentile latency exceeds
    ``target_latency`` seconds, else raises it by one (never below ``min_concurrent``).
    After a cut only requests admitted since count. A failed request (5xx, or no answer)
    counts only when it took longer than the target.
    """

    max_concurrent: int = 64
    max_queue: int = 32
    queue_timeout: float = 0.05
    retry_after: int = 1
    exempt_paths: tuple[str, ...] = ()
    adaptive: bool = False
    target_latency: float = 0.5
    min_concurrent: int = 1
    clock: Clock = time.monotonic

    def __post_init__(self) -> None:
        # Counts of requests: a float cap (inf as "unlimited") let adaptive mode's first
        # cut fail with OverflowError, a 500 that kept its slot forever.
        for name in ("max_concurrent", "min_concurrent", "max_queue"):
            if type(getattr(self, name)) is not int:
                raise ConfigError(f"{name} must be a whole number")
        if self.max_concurrent < 1:
            raise ConfigError("max_concurrent must be at least 1")
        if not 0 <= self.max_queue <= 10_000:
            raise ConfigError("max_queue must be between 0 and 10000")
        if not 0 < self.queue_timeout <= 10:
            raise ConfigError("queue_timeout must be a short positive time (at most 10 s)")
        retry_after = self.retry_after
        # Retry-After is delta-seconds, digits only (RFC 9110): 1.5 or True would go out
        # as "1.5" or "True", which clients ignore or misread.
        if type(retry_after) is not int or retry_after < 1:
            raise ConfigError("retry_after must be a whole number of seconds, at least 1")
        # NaN fails both comparisons: no p90 would ever exceed it, nor one of inf, and
        # adaptive mode would never lower the cap.
        if not 0 < self.target_latency < _INF:
            raise ConfigError("target_latency must be a positive, finite number of seconds")
        if not 1 <= self.min_concurrent <= self.max_concurrent:
            raise ConfigError("min_concurrent must be between 1 and max_concurrent")
        if any(not p.startswith("/") for p in self.exempt_paths):
            raise ConfigError("exempt paths must start with '/'")


class LoadShedding:
    """Admits up to the cap, queues briefly, sheds the rest with 503 + ``Retry-After``."""

    __slots__ = (
        "_active",
        "_batch",
        "_config",
        "_cut_at",
        "_exempt",
        "_limit",
        "_lock",
        "_retry_after",
        "_waiters",
    )

    def __init__(self, config: LoadSheddingConfig) -> None:
        self._config = config
        self._exempt = frozenset(config.exempt_paths)
        self._retry_after = {"retry-after": str(config.retry_after)}
        self._limit = config.max_concurrent
        self._active = 0
        # Created by the first request that has to wait: most instances never queue one,
        # and ``collections`` is then not imported at a cold start.
        self._waiters: deque[asyncio.Future[bool]] | None = None
        self._batch: list[float] = []
        self._lock = allocate_lock()
        self._cut_at = -_INF

    @property
    def limit(self) -> int:
        """The cap in force (below ``max_concurrent`` while adaptive mode backs off)."""
        return self._limit

    @property
    def active(self) -> int:
        """Requests running now."""
        return self._active

    @property
    def queued(self) -> int:
        """Requests waiting for a slot."""
        return len(self._waiters) if self._waiters is not None else 0

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        if request.path in self._exempt:
            return await call_next(request)
        waiters = self._waiters
        while waiters and waiters[0].done():
            waiters.popleft()  # cancelled this very moment; its task has not run yet
        if self._active < self._limit and not waiters:
            self._active += 1
        else:
            await self._queue(request)
        if not self._config.adaptive:
            try:
                return await call_next(request)
            finally:
                self._release()
        clock = self._config.clock
        start = None
        failed = True
        try:
            start = clock()
            response = await call_next(request)
            failed = getattr(response, "status", 500) >= 500
            return response
        finally:
            # The slot goes back whatever the sample raised (a clock that failed): kept,
            # it was lost for good, and once all were, every request was shed.
            try:
                if start is not None:
                    # Sampled first: a raised cap admits the queue in this very release.
                    self._sample(start, clock(), failed=failed)
            finally:
                self._release()

    async def _queue(self, request: Request) -> None:
        config = self._config
        budget = config.queue_timeout
        if request.deadline is not None:
            # Half the time left at most: a request admitted later would have little
            # time for its work, and a wait that ran up to the deadline would end in
            # the deadline's 504, not in the 503 that tells the client to retry.
            budget = min(budget, (request.deadline - time.monotonic()) / 2)
        waiters = self._waiters
        if waiters is None:
            from collections import deque

            waiters = self._waiters = deque()
        if len(waiters) >= config.max_queue or budget <= 0:
            raise self._overloaded(request)
        # Only a queued request needs the event loop's futures (and so asyncio).
        import asyncio

        loop = asyncio.get_running_loop()
        ticket: asyncio.Future[bool] = loop.create_future()
        waiters.append(ticket)
        # In an empty context: asyncio keeps a cancelled timer until its time (Pyodide's
        # loop always), and a copy of the request's kept its log record that long.
        timer = loop.call_later(budget, self._expire, ticket, context=Context())
        try:
            admitted = await ticket
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled() and ticket.result():
                self._release()
            else:
                from contextlib import suppress  # asyncio has loaded it already

                # Gone if it expired, or if another thread admitted it (``_admit`` then
                # gives the slot back).
                with suppress(ValueError):
                    waiters.remove(ticket)
            raise
        finally:
            timer.cancel()
        if not admitted:
            raise self._overloaded(request)

    def _expire(self, ticket: asyncio.Future[bool]) -> None:
        if not ticket.done() and self._waiters is not None:
            try:
                self._waiters.remove(ticket)
            except ValueError:
                return  # admitted from another thread: its wake-up is on the way
            ticket.set_result(False)

    def _release(self) -> None:
        self._active -= 1
        waiters = self._waiters
        while waiters and self._active < self._limit:
            ticket = waiters.popleft()
            if not ticket.done():
                self._wake(ticket)

    def _wake(self, ticket: asyncio.Future[bool]) -> None:
        """Admit a queued request: its slot is taken here, at once."""
        import asyncio

        loop = ticket.get_loop()
        if loop is asyncio.events._get_running_loop():
            self._active += 1
            ticket.set_result(True)
        elif not loop.is_closed():
            # Queued on another worker thread's loop (GCF serves each thread from its
            # own): resolved from here, that loop would sleep on until the queue timer
            # woke it, holding the slot meanwhile and shedding everything queued behind.
            self._active += 1
            loop.call_soon_threadsafe(self._admit, ticket)

    def _admit(self, ticket: asyncio.Future[bool]) -> None:
        if ticket.done():
            self._release()  # cancelled while its wake-up was on the way
        else:
            ticket.set_result(True)

    def _sample(self, start: float, end: float, *, failed: bool) -> None:
        latency = end - start
        if start < self._cut_at:
            # Admitted before the last cut: it ran under the old cap, and its latency is
            # the congestion that cut answered already. Counted again, one slow burst of
            # max_concurrent requests cut the cap once per 16 of them (64 to 20, where
            # TCP halves its window once per round trip).
            return
        if failed and not latency > self._config.target_latency:
            # A 5xx or no answer at all (the client left, the deadline cut it) measured no
            # work done: only that it took this long. That counts when it is already too
            # long; counted as a fast request, every quick failure or abandoned request
            # would raise a cap that real work had lowered.
            return
        batch = self._batch
        batch.append(latency)
        if len(batch) < _BATCH:
            return
        # Worker threads (functions-framework) finish requests at once: one takes the
        # full batch and starts the next, so no two sort and empty one list (a read past
        # its emptied end raised here and kept the slot) nor count one batch twice.
        with self._lock:
            if self._batch is not batch:
                return
            self._batch = []
        samples = sorted(batch)
        p90 = samples[int(len(samples) * 0.9)]
        config = self._config
        if p90 > config.target_latency:
            self._limit = max(config.min_concurrent, int(self._limit * _DECREASE))
            self._cut_at = end
        else:
            self._limit = min(config.max_concurrent, self._limit + 1)

    def _overloaded(self, request: Request) -> ServiceUnavailable:
        # Marked for the metrics, which count it as Shed: told apart by status and
        # Retry-After, every dependency's 503 (the rate-limit store, the JWKS, the replay
        # store) counted as Shed too, and an outage read as an overload.
        request.state["shed"] = True
        return ServiceUnavailable(
            "the server is overloaded; retry later", slug="overloaded", headers=self._retry_after
        )
