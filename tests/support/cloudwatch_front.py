"""A CloudWatch Logs endpoint on 127.0.0.1 answering PutLogEvents as the service does
where moto's server does not, for tests.

moto 5 reports ``rejectedLogEventsInfo`` its own way: ``tooOldLogEventEndIndex`` is the
index of the last event too old, and ``tooNewLogEventStartIndex`` the index of the last
event too new. The service's API reference (and botocore's model) gives the first event
too new (inclusive) and the end of the events too old (exclusive: the count of them).
moto never throttles either. This front answers each call with the service's documented
response: 200 with ``rejectedLogEventsInfo`` (events older than 14 days or more than two
hours ahead of ``now`` are held back, the rest accepted), or, for each code queued in
``errors``, a 400 with the JSON error shape ``{"__type": ..., "message": ...}``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any

_DAY_MS = 24 * 3600 * 1000
_MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "ServiceUnavailableException": "The server failed to fulfill the request.",
}


class CloudWatchFront:
    """What the front accepted and how often it was called."""

    def __init__(self, now: Callable[[], float], errors: Iterable[str]) -> None:
        self.now = now
        self.errors = deque(errors)
        self.accepted: list[str] = []
        self.calls = 0
        self.refused = 0
        self.endpoint = ""
        self._lock = threading.Lock()

    def client(self) -> Any:
        """A boto3 ``logs`` client for this front that makes one attempt per call."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "logs",
            region_name="us-east-1",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=10),
        )

    def answer(self, target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls += 1
            if self.errors:
                code = self.errors.popleft()
                return 400, {"__type": code, "message": _MESSAGES.get(code, code)}
            if target != "PutLogEvents":
                return 200, {}
            return self._put(body["logEvents"])

    def _put(self, events: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        now_ms = int(self.now() * 1000)
        stamps = [int(event["timestamp"]) for event in events]
        refusal = _refusal(events, stamps, now_ms)
        if refusal:
            self.refused += 1
            return 400, {"__type": "InvalidParameterException", "message": refusal}
        too_old_end = sum(1 for stamp in stamps if stamp < now_ms - 14 * _DAY_MS)
        too_new = [i for i, stamp in enumerate(stamps) if stamp > now_ms + _DAY_MS // 12]
        too_new_start = too_new[0] if too_new else len(events)
        self.accepted += [event["message"] for event in events[too_old_end:too_new_start]]
        info: dict[str, int] = {}
        if too_old_end:
            info["tooOldLogEventEndIndex"] = too_old_end
        if too_new:
            info["tooNewLogEventStartIndex"] = too_new_start
        answer: dict[str, Any] = {"nextSequenceToken": str(self.calls)}
        if info:
            answer["rejectedLogEventsInfo"] = info
        return 200, answer


def _refusal(events: list[dict[str, Any]], stamps: list[int], now_ms: int) -> str:
    """Why the service refuses the whole batch (the limits moto does not check), or ""."""
    size = sum(len(event["message"].encode()) + 26 for event in events)
    if len(events) > 10_000:
        return "Member must have length less than or equal to 10000"
    if size > 1_048_576:
        return f"Upload too large: {size} bytes exceeds limit of 1048576"
    if any(b < a for a, b in pairwise(stamps)):
        return "Log events in a single PutLogEvents request must be in chronological order."
    valid = [s for s in stamps if now_ms - 14 * _DAY_MS <= s <= now_ms + _DAY_MS // 12]
    if valid and valid[-1] - valid[0] > _DAY_MS:
        return "A batch of log events in a single request cannot span more than 24 hours."
    return ""


@contextmanager
def cloudwatch_front(
    *, now: Callable[[], float] = time.time, errors: Iterable[str] = ()
) -> Iterator[CloudWatchFront]:
    """Serve a :class:`CloudWatchFront` on 127.0.0.1 for the duration of the block."""
    front = CloudWatchFront(now, errors)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            target = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
            status, answer = front.answer(target, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-RequestId", f"front-{front.calls}")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    front.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield front
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
