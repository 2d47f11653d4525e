"""Where log records go: stdout, any text stream, or a ``logging``-style logger."""

from __future__ import annotations

import os
import sys
from _io import BufferedWriter, FileIO, TextIOWrapper  # io re-exports them
from _thread import RLock

from daloy_edge._copies import after_fork

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import IO, Any, Protocol

    from daloy_edge.types import JSON

__all__ = ["LoggerSink", "MemorySink", "Sink", "StreamSink"]

_EBADF = 9  # the same on Linux, macOS and Windows; ``errno`` is not loaded at start-up
_PATIENCE = 1.0
"""Seconds a line waits for a full stdout pipe to take any of it before it is dropped."""

_LEVEL_METHODS = {
    "TRACE": "debug",
    "DEBUG": "debug",
    "INFO": "info",
    "WARN": "warning",
    "ERROR": "error",
    "FATAL": "critical",
}


if TYPE_CHECKING:

    class Sink(Protocol):
        """Receives each record once (see the runtime class below)."""

        def emit(self, record: Mapping[str, object], line: str) -> None: ...

else:

    class _HasEmit(type):
        # ``isinstance(x, Sink)`` is true for any object with an ``emit`` method, as for
        # a runtime-checkable protocol, without importing ``typing``.
        def __instancecheck__(cls, instance: object) -> bool:
            return callable(getattr(instance, "emit", None))

    class Sink(metaclass=_HasEmit):
        """Receives each record once, both as a mapping and as its encoded JSON line.

        Any object with this ``emit`` method is a sink (no subclassing needed).
        ``emit`` is called on the response path: it must not block on the network.
        """

        def emit(self, record: Mapping[str, object], line: str) -> None:
            """Take one record (``line`` has no trailing newline)."""
            raise NotImplementedError


# One lock for every StreamSink, not one each: every app's request log (and the
# handler logger of an app without one) has a sink of its own, and they all write to the
# one sys.stdout. Each holding its own lock, two apps' lines written at once from two
# threads came out spliced mid-line wherever one passed stdout's 8 KiB buffer (a trace,
# logged headers), in the pipe Lambda, Cloud Run and containers read lines from.
# Reentrant: a stream that logs as it writes, or a signal handler logging on a thread
# caught mid-line, waited on itself (the handler's line then lands inside the one a
# full pipe left unfinished: documented, not worth a check on every line).
_WRITING = RLock()
# What a full pipe left of a line begun, by descriptor, and the descriptors whose pipe
# stayed full: the descriptor's, not one sink's, since every sink writes to stdout (a
# line of another app written before the end of a cut one would land inside it).
_REST: dict[int, bytes] = {}
_STUCK: set[int] = set()


@after_fork
def _after_fork() -> None:
    # A thread of the parent writing at the fork (blocked on a slow pipe, say) left the
    # child a copy of the lock held by a thread the child has not: its first line hung it
    # for good. The rest of a line the parent cut is the parent's to write. Not at a
    # SnapStart restore (``_copies``), whose threads carry on and may hold the lock.
    _WRITING._at_fork_reinit()  # type: ignore[attr-defined]  # in place: sinks hold it
    _REST.clear()


class StreamSink:
    """Writes each line to a text stream and flushes (stdout when none is given).

    With no stream, ``sys.stdout`` is looked up at each write, so redirection and test
    capture work; flushing per line means a frozen Lambda sandbox loses nothing. Lines
    written by every sink in the process, from any thread, never interleave.

    A line that cannot be written (stdout closed, its reader gone, a full disk, a pipe
    that stayed full) is lost, never raised to the request: it is counted in
    :attr:`dropped`, and the first failure of each kind is reported once on stderr.
    """

    __slots__ = (
        "_buffered",
        "_codec",
        "_fd",
        "_file",
        "_lock",
        "_stream",
        "dropped",
    )

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._lock = _WRITING
        self.dropped = 0
        """Lines this sink could not write."""
        self._file: TextIOWrapper | None = None  # the stream _fd and _codec belong to
        self._fd = -1
        self._codec: tuple[str, str] | None = None
        self._buffered = True

    def emit(self, record: Mapping[str, object], line: str) -> None:
        """Write ``line`` and a newline in one call, then flush."""
        self.write_text(line + "\n")

    def write(self, line: str) -> None:
        """Write ``line`` and a newline in one call, then flush (what :meth:`emit` does;
        the request log calls it directly when no sink needs the record as a mapping)."""
        self.write_text(line + "\n")

    def write_text(self, text: str) -> None:
        """Write ``text``, a line that already ends in its newline, then flush (the
        request log builds its line with the newline in, saving a copy of it)."""
        stream = self._stream or sys.stdout
        lock = self._lock
        # acquire and release rather than ``with``: fewer steps on every request. One
        # write per line under the lock, so lines from threads never interleave.
        lock.acquire()
        try:
            file = self._file
            if stream is file and file is not None and not _REST:
                # The common case, a file stream seen before: its bytes straight to it.
                if self._buffered:
                    file.flush()  # what print() left buffered goes first
                codec = self._codec
                data = text.encode() if codec is None else text.encode(*codec)
                try:
                    sent = os.write(self._fd, data)
                except BlockingIOError:
                    sent = 0
                if sent < len(data):
                    self._write_rest(data, sent, 0)
                elif _STUCK:
                    _STUCK.discard(self._fd)
            else:
                self._write_stream(stream, text)
        except Exception:
            self.dropped += 1
            raise
        finally:
            lock.release()

    def _write_stream(self, stream: IO[str] | None, text: str) -> None:
        """``text`` to a stream not seen before, or after the end of a cut line.

        A file stream gets its bytes with ``os.write``: through the text layer, a pipe
        a parent made non-blocking (common in containers) took part of a line and
        dropped the rest without a word, or kept a part the next line was appended
        to, no JSON either way.
        """
        if type(stream) is TextIOWrapper and (stream is self._file or self._bind(stream)):
            fd = self._fd
            rest = _REST.pop(fd, None)
            if rest is not None:
                # Before the flush: what print() left in the stream since the line was
                # cut went out first, into the middle of that line.
                sent = _send(fd, rest)
                if sent < len(rest):
                    self._write_rest(rest, sent, len(rest))
            if self._buffered:
                stream.flush()
            codec = self._codec
            data = text.encode() if codec is None else text.encode(*codec)
            sent = _send(fd, data)
            if sent < len(data):
                self._write_rest(data, sent, 0)
            else:
                _STUCK.discard(fd)
            return
        if stream is None:  # fd 1 was closed when Python started (``>&-``)
            raise OSError(_EBADF, "no stdout")
        stream.write(text)  # a text layer over memory, pytest's capture, a wrapper
        stream.flush()

    def _bind(self, stream: TextIOWrapper) -> bool:
        """Learn what each line needs of ``stream`` once, not per line: its descriptor,
        its codec (None for UTF-8, the common case and the fastest call), and whether it
        can hold text to flush first (not under ``python -u`` or ``PYTHONUNBUFFERED``,
        where it writes straight through to the file). False, and nothing kept, for a
        stream whose lines must go through its own layers: one over memory has no
        descriptor, a gzip or TLS layer has the descriptor of the compressed or
        encrypted bytes, and a codec with a byte order mark would repeat it per line."""
        try:
            buffer = stream.buffer
            own = type(buffer) is FileIO or (
                type(buffer) is BufferedWriter and type(buffer.raw) is FileIO
            )
            fd = stream.fileno() if own else -1
            errors = stream.errors or "strict"
            marked = bool("".encode(stream.encoding, errors))
        except (OSError, ValueError, LookupError):
            fd, marked = -1, True
        if fd < 0 or marked:
            self._file, self._fd = None, -1
            return False
        self._file, self._fd = stream, fd
        utf8 = stream.encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        self._codec = None if utf8 and errors == "strict" else (stream.encoding, errors)
        self._buffered = not (stream.write_through and type(buffer) is FileIO)
        return True

    def _write_rest(self, data: bytes, sent: int, held: int) -> None:
        """The rest of ``data`` once a full pipe took ``sent`` bytes of it (its first
        ``held`` bytes the end of a line cut before), written as the reader drains the
        pipe. Given up once the pipe takes nothing for :data:`_PATIENCE` seconds, where
        a blocking write would wait for ever; the end of a line begun is then kept for
        the next write, so no line is cut in two. Once given up, a line the pipe takes
        none of is dropped at once rather than waited for by each request."""
        fd = self._fd
        view = memoryview(data)
        while sent < len(data):
            if (sent == 0 and fd in _STUCK) or not _writable(fd, _PATIENCE):
                _STUCK.add(fd)
                if sent > held:
                    _REST[fd] = data[sent:]
                    return  # begun, so finished by the next write: not lost
                if sent < held:
                    _REST[fd] = data[sent:held]
                raise BlockingIOError("the pipe stayed full")
            sent += _send(fd, view[sent:])
        _STUCK.discard(fd)


class LoggerSink:
    """Hands records to a ``logging.Logger`` or an aws-lambda-powertools ``Logger``.

    The record's ``Body`` is the message; the other OTel fields go in ``extra`` so JSON
    formatters (Powertools' included) put them at the top level of their own line.

    >>> import logging
    >>> sink = LoggerSink(logging.getLogger("app"))
    """

    __slots__ = ("_logger",)

    def __init__(self, logger: object) -> None:
        if not callable(getattr(logger, "info", None)):
            raise TypeError("LoggerSink needs an object with logging-style methods")
        self._logger = logger

    def emit(self, record: Mapping[str, object], line: str) -> None:
        """Log ``record`` at the method matching its severity.

        Control characters, line separators and bidirectional controls in the message,
        and all but C0 controls in the other members, are written as their JSON escapes,
        as the request log's own lines write them: the logger's formatter writes a
        message as it is, and Powertools' writes non-ASCII raw, so a newline, a NEL or a
        U+202E from the client forged a record or hid its text. Lone surrogates are
        escaped everywhere: a UTF-8 stream refuses them, and ``logging`` dropped the record."""
        from daloy_edge.observability._controls import escaped_message, escaped_values

        severity = str(record.get("SeverityText", "INFO"))
        method = getattr(self._logger, _LEVEL_METHODS.get(severity, "info"))
        reserved = _reserved_names()
        extra = {k: escaped_values(v) for k, v in record.items() if k not in reserved}
        body = record.get("Body", "")
        method(escaped_message(body) if isinstance(body, str) else line, extra=extra)


def _reserved_names() -> frozenset[str]:
    """``Body`` and the names ``logging`` refuses in ``extra`` (a ``LogRecord``'s own
    attributes, ``message``, ``asctime``). On Google Cloud each record carries a
    ``message`` member, its body again for Cloud Logging: handed on in ``extra``, it made
    ``logging`` raise, and every record a ``LoggerSink`` was given there was lost."""
    global _reserved
    if _reserved is None:
        from logging import makeLogRecord

        _reserved = frozenset({"Body", "message", "asctime", *vars(makeLogRecord({}))})
    return _reserved


_reserved: frozenset[str] | None = None


class MemorySink:
    """Keeps records in memory (tests, or a handler that inspects its own logs)."""

    __slots__ = ("lines", "records")

    def __init__(self) -> None:
        self.records: list[Mapping[str, object]] = []
        self.lines: list[str] = []

    def emit(self, record: Mapping[str, object], line: str) -> None:
        """Remember the record and its line."""
        self.records.append(record)
        self.lines.append(line)


def parse_line(line: str) -> dict[str, JSON]:
    """A line the request log wrote, back as a dict: for sinks other than stdout and for
    the OpenTelemetry bridge. ``json`` (which imports ``re``) is loaded the first time."""
    global _decode_line
    decode = _decode_line
    if decode is None:
        from json import JSONDecoder

        decode = _decode_line = JSONDecoder().decode
    parsed: dict[str, JSON] = decode(line)
    return parsed


_decode_line: Callable[[str], Any] | None = None


_console: Callable[[int, str], None] | None = None


def set_console(write: Callable[[int, str], None] | None) -> None:
    """Install the platform console (``None`` removes it); the Workers adapter calls this.

    ``write(severity_number, line)`` writes one line at the console method of that
    severity: Workers Logs takes a line's level from the method, not from its text, and
    what reaches stdout is ``log`` whatever it says.
    """
    global _console
    _console = write


def write_console(severity: int, line: str) -> bool:
    """``line`` (no trailing newline) at the installed console, a failure reported rather
    than raised; False when there is none (the caller writes to stdout)."""
    write = _console
    if write is None:
        return False
    try:
        write(severity, line)
    except Exception as exc:
        complain(f"console failed: {failure(exc)}")
    return True


def complain(message: str) -> None:
    """Report a logging failure on stderr, once per process for each ``message``.

    A sink that fails fails for every record (stdout closed, its reader gone, a full
    disk): reported per record, the complaints grew with the traffic on the stream
    the platform also reads. The lost lines are counted where they were lost
    (:attr:`StreamSink.dropped`).
    """
    if message in _complained or len(_complained) >= _COMPLAINTS_KEPT:
        return
    if sys.stderr is None:
        # Descriptor 2 was closed when Python started (``2>&-``): the next file or
        # socket opened took its number, and the report went into that.
        return
    _complained.add(message)
    # stderr is the last place left to report a logging failure; the record itself is
    # never included (it may be what failed).
    try:
        os.write(2, f"daloy_edge: {message} (reported once)\n".encode())
    except OSError:
        return


_complained: set[str] = set()
_COMPLAINTS_KEPT = 64


def failure(exc: BaseException) -> str:
    """What went wrong, for a complaint: the exception's type, and for a plain
    ``OSError`` its errno's name (``OSError ENOSPC``; a subclass such as
    ``BrokenPipeError`` names its own), never its text, which may quote the record."""
    code = exc.errno if type(exc) is OSError else None
    name = None if type(code) is not int else _errno_name(code)
    return type(exc).__name__ if name is None else f"{type(exc).__name__} {name}"


def _errno_name(code: int) -> str | None:
    from errno import errorcode  # only a failure pays for it

    return errorcode.get(code)


def _send(fd: int, data: bytes | memoryview) -> int:
    """``os.write``, with a full non-blocking pipe taking 0 bytes instead of raising."""
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0


def _writable(fd: int, seconds: float) -> bool:
    """True once ``fd`` takes data (or has failed, which the next write raises), False
    after ``seconds``."""
    import select  # only a full pipe pays for it

    poll = getattr(select, "poll", None)
    if poll is None:  # Windows, where no pipe is non-blocking
        return False
    poller = poll()
    poller.register(fd, select.POLLOUT)
    return bool(poller.poll(seconds * 1000))


def write_safely(sink: StreamSink, line: str) -> None:
    """:meth:`StreamSink.write`, a failure reported rather than raised."""
    try:
        sink.write(line)
    except Exception as exc:
        complain(f"log sink StreamSink failed: {failure(exc)}")


def emit_safely(sink: Sink, record: Mapping[str, object], line: str) -> None:
    """``sink.emit``, a failure reported rather than raised."""
    try:
        sink.emit(record, line)
    except Exception as exc:
        # A broken sink must not break the response or the other sinks.
        complain(f"log sink {type(sink).__name__} failed: {failure(exc)}")
