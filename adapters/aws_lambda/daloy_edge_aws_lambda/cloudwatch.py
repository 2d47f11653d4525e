"""A batched CloudWatch Logs shipper for runtimes other than Lambda (ECS, EC2, a laptop).

On Lambda, stdout already reaches CloudWatch: do not use this there. Elsewhere, add it
as a sink of the request log; it never blocks the response path:

>>> shipper = CloudWatchLogsShipper("/daloy/api", region="eu-west-1")  # doctest: +SKIP
>>> app.request_log.add_sink(shipper)                                  # doctest: +SKIP
>>> app.on_shutdown(shipper.close)                                     # doctest: +SKIP

With ``emf=True`` the calls carry ``x-amzn-logs-format: json/emf``, so EMF lines sent
through it (``LogConfig(metrics=True, metrics_sinks=[shipper])``) become metrics.

``emit`` only appends to an in-memory queue; one background thread sends batches with
``PutLogEvents`` within its limits (10,000 events, 1,048,576 bytes counting 26 bytes per
event, 24 hours per batch, chronological order), retries with backoff, and re-creates
the group and stream when they vanish. When the queue is full (``max_queue`` events or
``max_queue_bytes``) the oldest events are dropped and counted, so memory stays bounded
during an outage; what a close during an outage leaves unsent is counted as dropped too.

A child forked after the shipper started (a pre-forking server's worker, a
``multiprocessing`` child) ships through a thread, a client and, by default, a stream of
its own; the lines the parent still held at the fork are the parent's to send.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Protocol, cast
from weakref import WeakSet

from daloy_edge import ConfigError, _copies
from daloy_edge_aws_lambda._stderr import warn

__all__ = ["CloudWatchLogsShipper", "LogEvent", "ShipperStats", "take_batch"]

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_EVENT_BYTES = 262_144 - EVENT_OVERHEAD_BYTES
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
_MAX_CLOCK_STEP_BACK_MS = 60_000
_DROP_CODES = frozenset({"InvalidParameterException", "DataAlreadyAcceptedException"})
_MISSING_CODES = frozenset({"ResourceNotFoundException"})
_EXISTS_CODE = "ResourceAlreadyExistsException"
_MAX_NAME_LENGTH = 512
_GROUP_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/#")


class LogsClient(Protocol):
    """The slice of a boto3 ``logs`` client the shipper uses."""

    def put_log_events(self, **kwargs: object) -> Mapping[str, object]: ...

    def create_log_group(self, **kwargs: object) -> object: ...

    def create_log_stream(self, **kwargs: object) -> object: ...


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One queued event: its message and its timestamp in milliseconds."""

    timestamp: int
    message: str
    size: int


@dataclass(slots=True)
class ShipperStats:
    """Counters for monitoring the shipper itself."""

    delivered: int = 0
    batches: int = 0
    dropped: int = 0
    rejected: int = 0
    retries: int = 0


def _truncate(message: str) -> tuple[str, int]:
    try:
        data = message.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate has no UTF-8: written as its escape, as a JSON line has it,
        # rather than raised on the caller's path.
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        data = message.encode("utf-8")
    if len(data) <= MAX_EVENT_BYTES:
        return message, len(data)
    fitted = _fitted_json(message)
    if fitted is not None:
        return fitted, len(fitted)
    cut = data[: MAX_EVENT_BYTES - 16].decode("utf-8", "ignore") + "…[truncated]"
    return cut, len(cut.encode("utf-8"))


def _fitted_json(message: str) -> str | None:
    """A JSON object too large for one event, with its largest strings shortened as the
    request log shortens its own lines: cut at the limit, it was no JSON, and its
    trace ids, error and EMF metrics were lost with the rest. None for other text."""
    from daloy_edge._json import encode_ascii
    from daloy_edge.observability._fit import fit_line
    from daloy_edge.observability._sinks import parse_line

    try:
        # Escaped, each character's bytes are the line's length: what ``fit_line`` counts.
        line = message if message.isascii() else encode_ascii(parse_line(message))
        return fit_line(line, MAX_EVENT_BYTES)
    except (ValueError, RecursionError):
        return None


def take_batch(
    queue: deque[LogEvent],
    *,
    max_events: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[LogEvent]:
    """Pop the longest prefix of ``queue`` that fits one ``PutLogEvents`` call (in
    chronological order, so a clock stepped back starts a new batch)."""
    batch: list[LogEvent] = []
    size = 0
    while queue and len(batch) < max_events:
        event = queue[0]
        cost = event.size + EVENT_OVERHEAD_BYTES
        if batch and (
            size + cost > max_bytes
            or event.timestamp - batch[0].timestamp > MAX_BATCH_SPAN_MS
            or event.timestamp < batch[-1].timestamp
        ):
            break
        batch.append(queue.popleft())
        size += cost
    return batch


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping):
            code = error.get("Code")
            return str(code) if code is not None else None
    return None


class CloudWatchLogsShipper:
    """Ships lines to one CloudWatch Logs stream from a background thread.

    ``client`` is a boto3 ``logs`` client; without one, it is built in the sender thread
    from ``region``/``endpoint_url`` (boto3 is imported there, never on the caller's path),
    and again in a child forked from this process. A client given is used as it is in
    such a child, with the connections it pooled in the parent: in a pre-forking server,
    give ``region`` instead, or build the shipper in each worker.
    Security: the shipper sends what the request log already redacted; it adds nothing.
    """

    def __init__(
        self,
        log_group: str,
        log_stream: str | None = None,
        *,
        client: LogsClient | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        create: bool = True,
        flush_interval: float = 1.0,
        max_queue: int = 100_000,
        max_queue_bytes: int = 64 * MAX_BATCH_BYTES,
        retry_base: float = 0.2,
        retry_max: float = 10.0,
        emf: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log_group = _checked_group(log_group)
        self.log_stream = _checked_stream(log_stream or _default_stream())
        self._named = bool(log_stream)
        self._own_client = client is None
        self.stats = ShipperStats()
        self._dropped_told = 0  # stats.dropped when the last batch was delivered
        self._client = client
        self._client_options = {
            "region_name": region,
            "endpoint_url": _checked_endpoint(endpoint_url),
        }
        self._create = create
        self._flush_interval = _checked_wait("flush_interval", flush_interval)
        self._max_queue = max_queue
        self._max_queue_bytes = max_queue_bytes
        self._retry_base = _checked_wait("retry_base", retry_base)
        self._retry_max = _checked_wait("retry_max", retry_max)
        self._clock = clock
        self._emf = emf
        self._prepared = False
        self._queue: deque[LogEvent] = deque()
        self._queued_bytes = 0
        self._inflight: list[LogEvent] = []
        self._last_ts = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._flushing = 0
        self._thread: threading.Thread | None = None
        _LIVE.add(self)

    def emit(self, record: Mapping[str, object], line: str) -> None:
        """Queue ``line`` (the :class:`~daloy_edge.observability.Sink` protocol)."""
        self.write(line)

    def write(self, message: str) -> None:
        """Queue one event; returns at once, whatever state CloudWatch is in. An empty
        message is skipped: CloudWatch refuses one, and the batch with it."""
        if not message:
            return
        text, size = _truncate(message)
        with self._cond:
            if self._stop.is_set():
                self.stats.dropped += 1
                return
            # PutLogEvents wants chronological batches; a small clock step back must not
            # reorder what the caller wrote in order. A large one is believed (and starts
            # a new batch): held at a wrong time ahead, every event was refused as too new.
            stamp = int(self._clock() * 1000)
            if self._last_ts - _MAX_CLOCK_STEP_BACK_MS <= stamp < self._last_ts:
                stamp = self._last_ts
            self._last_ts = stamp
            self._queue.append(LogEvent(stamp, text, size))
            self._queued_bytes += size + EVENT_OVERHEAD_BYTES
            if len(self._queue) > self._max_queue or self._queued_bytes > self._max_queue_bytes:
                self._drop_oldest()
            if self._thread is None:
                self._start()
            if len(self._queue) >= MAX_BATCH_EVENTS or self._queued_bytes >= MAX_BATCH_BYTES:
                self._cond.notify_all()

    def _drop_oldest(self) -> None:
        """Drop the oldest events until the queue is within both bounds (one large event
        may push out many small ones); the newest is always kept."""
        queue = self._queue
        while len(queue) > 1 and (
            len(queue) > self._max_queue or self._queued_bytes > self._max_queue_bytes
        ):
            dropped = queue.popleft()
            self._queued_bytes -= dropped.size + EVENT_OVERHEAD_BYTES
            self.stats.dropped += 1

    def pending(self) -> int:
        """Events queued or being sent."""
        with self._cond:
            return len(self._queue) + len(self._inflight)

    def flush(self, timeout: float = 10.0) -> bool:
        """Send now and wait until everything queued so far is delivered; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            try:
                if self._thread is None and self._queue:
                    # Lines written while no thread could start: the last ones before a
                    # shutdown were otherwise never sent, nor counted as dropped.
                    self._start()
                self._cond.notify_all()
                while self._queue or self._inflight:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._thread is None or self._stop.is_set():
                        return False
                    self._cond.wait(min(remaining, 0.1))
                return True
            finally:
                self._flushing -= 1

    def close(self, timeout: float = 10.0) -> None:
        """Flush, then stop the sender thread (register it with ``app.on_shutdown``)."""
        self.flush(timeout)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self._abandon()

    def _start(self) -> None:
        thread = threading.Thread(target=self._run, name="daloy-cloudwatch-shipper", daemon=True)
        try:
            thread.start()
        except RuntimeError:
            # No thread to be had (the process at its thread limit: Lambda's 1,024, a
            # container's pids.max): the line stays queued and the next write tries again.
            # Kept, the thread that never started stopped the shipper for good, and the
            # error reached the caller of ``write``.
            return
        self._thread = thread

    def _forked(self) -> None:
        """Start over in a child forked from the process that built this shipper.

        The parent's sender thread did not come along: the child's lines were never sent
        and every ``flush`` waited out its timeout. A lock one of the parent's threads
        held at the fork stayed held for good, and the client's pooled connection is the
        parent's too (both writing on it, each read the other's answers). What the parent
        had queued or in flight it sends itself: dropped here, and not counted (counted,
        every worker reported drops of lines that were delivered). A stream named by
        default after the parent's pid gets the child's.
        Not after a SnapStart restore (``_copies``): there the thread carries on.
        """
        stopped = self._stop.is_set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        if stopped:
            self._stop.set()
        self._thread = None
        self._flushing = 0
        stats = self.stats
        stats.delivered = stats.batches = stats.rejected = stats.retries = stats.dropped = 0
        self._dropped_told = 0
        self._queue.clear()
        self._queued_bytes = 0
        self._inflight = []
        if self._own_client and self._client is not None:
            # Kept, not dropped: collected here, its pools' finalizers would take locks
            # the parent's thread may have held at the fork.
            _copies.keep(self._client)
            self._client = None
            self._prepared = False
        if not self._named and self._create:
            # Without ``create`` only the parent's stream may exist: the child's would
            # be retried for ever, and nothing it wrote would arrive.
            self.log_stream = _default_stream()

    def _next_batch(self) -> list[LogEvent] | None:
        """The batch to send; None when the thread should stop.

        Waits up to ``flush_interval`` to gather events, less when a batch is full or a
        flush or close is asked for.
        """
        with self._cond:
            while True:
                ready = (
                    self._flushing
                    or self._stop.is_set()
                    or len(self._queue) >= MAX_BATCH_EVENTS
                    or self._queued_bytes >= MAX_BATCH_BYTES
                )
                if self._queue and ready:
                    break
                if not self._queue and self._stop.is_set():
                    return None
                notified = self._cond.wait(self._flush_interval)
                if not notified and self._queue:
                    break
            self._inflight = take_batch(self._queue)
            self._queued_bytes -= sum(e.size + EVENT_OVERHEAD_BYTES for e in self._inflight)
            return list(self._inflight)

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None or not self._send(batch):
                self._abandon()
                return
            with self._cond:
                self._inflight = []
                self._cond.notify_all()

    def _abandon(self) -> None:
        """Count what is still unsent as dropped: stopped while CloudWatch could not be
        reached, it is never sent."""
        with self._cond:
            unsent = len(self._queue) + len(self._inflight)
            self.stats.dropped += unsent
            self._queue.clear()
            self._queued_bytes = 0
            self._inflight = []
            self._cond.notify_all()
        if unsent:
            # The last word of a process stopped during an outage: counted only in the
            # stats, which go with it, the lost lines left no trace anywhere.
            warn(f"stopped with {unsent} events unsent")

    def _send(self, batch: list[LogEvent]) -> bool:
        """Deliver one batch, retrying with backoff; False only when stopped meanwhile."""
        attempt = 0
        created = False
        while True:
            try:
                self._put(batch)
            except Exception as exc:
                code = _error_code(exc)
                if code in _DROP_CODES or _refused_before_sending(exc):
                    self.stats.rejected += len(batch)
                    warn(f"CloudWatch refused a batch of {len(batch)} events ({code})")
                    return True
                if code in _MISSING_CODES and self._create and not created:
                    # Created once per batch: a destination that keeps vanishing is
                    # retried with backoff like any other failure.
                    created = self._ensure_destination()
                    if created:
                        continue
                if not attempt:
                    # Once per batch: an outage or a missing region, credential or
                    # permission is seen, and a long one does not flood stderr.
                    reason = code or type(exc).__name__
                    warn(f"could not send {len(batch)} events, retrying ({reason})")
                self.stats.retries += 1
                attempt += 1
                delay = min(self._retry_max, self._retry_base * 2 ** min(attempt, 16))
                if self._stop.wait(delay):
                    return False
            else:
                dropped = self.stats.dropped
                if attempt:
                    # The end of an outage, with what it cost: the lines the full queue
                    # dropped since the last delivery are missing from the stream, and
                    # only the stats counted them.
                    lost = dropped - self._dropped_told
                    warn(f"sent again after {attempt} retries; {lost} events dropped meanwhile")
                self._dropped_told = dropped
                return True

    def _put(self, batch: list[LogEvent]) -> None:
        client = self._get_client()
        result = client.put_log_events(
            logGroupName=self.log_group,
            logStreamName=self.log_stream,
            logEvents=[{"timestamp": e.timestamp, "message": e.message} for e in batch],
        )
        info = result.get("rejectedLogEventsInfo")
        rejected = _rejected_count(info, len(batch)) if isinstance(info, Mapping) else 0
        self.stats.rejected += rejected
        self.stats.delivered += len(batch) - rejected
        self.stats.batches += 1

    def _ensure_destination(self) -> bool:
        """Create the stream, and the group only when it is missing: a role allowed
        ``CreateLogStream`` on an existing group, and not ``CreateLogGroup``, still ships."""
        client = self._get_client()
        stream = {"logGroupName": self.log_group, "logStreamName": self.log_stream}
        try:
            try:
                _create(client.create_log_stream, stream)
            except Exception as exc:
                if _error_code(exc) not in _MISSING_CODES:
                    raise
                _create(client.create_log_group, {"logGroupName": self.log_group})
                _create(client.create_log_stream, stream)
        except Exception as exc:
            code = _error_code(exc) or type(exc).__name__
            warn(f"could not create the log group or stream: {code}")
            return False
        return True

    def _get_client(self) -> LogsClient:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=10)
            options = {k: v for k, v in self._client_options.items() if v}
            self._client = boto3.client("logs", config=config, **options)
        if self._emf and not self._prepared:
            _mark_emf(self._client)
        self._prepared = True
        return self._client


# Every shipper alive, for the fork hook below (weakly: it keeps none alive).
_LIVE: WeakSet[CloudWatchLogsShipper] = WeakSet()


def _after_fork() -> None:
    for shipper in list(_LIVE):
        shipper._forked()


# At a fork only, not at every copy (``_copies.after_copy``): after a SnapStart restore
# the sender thread carries on, with its queue, its lock and its client.
_copies.after_fork(_after_fork)


def _default_stream() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _checked_endpoint(url: str | None) -> str | None:
    """boto3 refuses an endpoint that is no absolute http(s) URL in the sender thread, where
    every batch then failed as ``ValueError``, retried for good: say so at build."""
    from urllib.parse import urlsplit

    if url is None:
        return None
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an IPv6 literal without its "]"
        usable = False
    if not usable or url != url.strip():
        raise ConfigError("endpoint_url must be an absolute http(s) URL")
    return url


def _checked_group(name: str) -> str:
    """CloudWatch refuses every batch for a group it cannot name: say so at build."""
    if not name or len(name) > _MAX_NAME_LENGTH or not _GROUP_NAME_CHARS.issuperset(name):
        raise ConfigError("log_group must be 1-512 of A-Z a-z 0-9 . _ - / #")
    return name


def _checked_stream(name: str) -> str:
    if len(name) > _MAX_NAME_LENGTH or ":" in name or "*" in name:
        raise ConfigError("log_stream must be 1-512 characters without ':' or '*'")
    return name


def _checked_wait(name: str, seconds: float) -> float:
    """The sender thread waits this long: none (0, negative, NaN) had it spin a core while
    idle or retry without pause, and one past ``threading.TIMEOUT_MAX`` ended it."""
    if not 0 < seconds <= threading.TIMEOUT_MAX:
        raise ConfigError(f"{name} must be a positive number of seconds")
    return seconds


def _create(create: Callable[..., object], kwargs: Mapping[str, str]) -> None:
    """Call ``create``; one that already exists (another process won the race) is fine."""
    try:
        create(**kwargs)
    except Exception as exc:
        if _error_code(exc) != _EXISTS_CODE:
            raise


def _mark_emf(client: object) -> None:
    """Have every PutLogEvents call say its events are EMF, so CloudWatch extracts metrics."""
    register = getattr(getattr(getattr(client, "meta", None), "events", None), "register", None)
    if callable(register):
        register("before-sign.cloudwatch-logs.PutLogEvents", _emf_header)


def _emf_header(request: object, **kwargs: object) -> None:
    headers = getattr(request, "headers", None)
    if headers is not None:
        cast("MutableMapping[str, str]", headers)["x-amzn-logs-format"] = "json/emf"


def _rejected_count(info: Mapping[str, object], total: int) -> int:
    """Events CloudWatch kept back: a head too old or past the group's retention (two
    overlapping prefixes, the longer counts), and a tail too far in the future.

    The ends of the heads are exclusive, as the API reference gives the too-old one
    (the retention's follows it): each is the count of its head. moto answers the index
    of the last event too old instead, and read that way one delivered event per such
    batch was counted as rejected.
    """
    ends = [info.get("tooOldLogEventEndIndex"), info.get("expiredLogEventEndIndex")]
    heads = [end for end in ends if isinstance(end, int)]
    count = max(heads) if heads else 0
    too_new = info.get("tooNewLogEventStartIndex")
    if isinstance(too_new, int):
        count += total - too_new
    return min(count, total)


def _refused_before_sending(exc: BaseException) -> bool:
    """botocore refused the batch itself (``ParamValidationError``): it carries no error
    code, and no retry can change the answer, so retrying would stop the shipper.
    Read from what is loaded: a client of the caller's own may run without botocore."""
    exceptions = sys.modules.get("botocore.exceptions")
    return exceptions is not None and isinstance(exc, exceptions.ParamValidationError)
