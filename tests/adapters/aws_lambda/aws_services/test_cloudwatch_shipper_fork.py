"""The CloudWatch Logs shipper in a copy of its process: a forked child (a pre-forking
server's worker, a ``multiprocessing`` child) and a SnapStart restore, against moto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from daloy_edge_aws_lambda.cloudwatch import CloudWatchLogsShipper

from daloy_edge import _copies

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "fork"), reason="this platform has no fork"),
]

ROOT = Path(__file__).resolve().parents[4]

# The parent ships a line (its thread, client and connection now exist), queues one more
# with a long interval ahead (still queued at the fork), and forks while ``held`` tells
# whether another of its threads holds the shipper's lock then. The child writes, flushes
# and closes; the parent flushes after the child is done, or killed as hung.
FORK_A_STARTED_SHIPPER = """
import json, os, sys, threading, time
from daloy_edge_aws_lambda.cloudwatch import CloudWatchLogsShipper
from tests.support.children import hung

endpoint, group, held = sys.argv[1], sys.argv[2], sys.argv[3] == "held"
shipper = CloudWatchLogsShipper(group, region="us-east-1", endpoint_url=endpoint,
                                flush_interval=30)
shipper.write("parent shipped before the fork")
assert shipper.flush(20)
shipper.write("parent queued at the fork")
locked, release = threading.Event(), threading.Event()
if held:
    def hold():
        with shipper._cond:
            locked.set()
            release.wait(30)
    threading.Thread(target=hold, daemon=True).start()
    assert locked.wait(10)
parents_client = shipper._client
pid = os.fork()
if pid == 0:
    shipper.write("child line")
    flushed = shipper.flush(10)
    shipper.close(5)
    report = {"flushed": flushed, "stream": shipper.log_stream,
              "dropped": shipper.stats.dropped, "delivered": shipper.stats.delivered,
              "own_client": shipper._client is not parents_client}
    print(json.dumps(report), flush=True)
    os._exit(0)
release.set()
if hung(pid, 30):
    print(json.dumps("hung"), flush=True)
assert shipper.flush(20)
shipper.close()
print(json.dumps({"stream": shipper.log_stream, "delivered": shipper.stats.delivered}))
"""


def fork_a_started_shipper(moto, group: str, held: str) -> tuple[object, dict, dict]:
    # In a process of its own: forking the test runner, with its threads, is unsafe.
    done = subprocess.run(
        [sys.executable, "-c", FORK_A_STARTED_SHIPPER, moto.endpoint, group, held],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    child, parent = (json.loads(line) for line in done.stdout.splitlines())
    return moto.client("logs"), child, parent


def read_back(client, group: str, stream: str) -> list[str]:
    page = client.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [event["message"] for event in page["events"]]


def streams_of(client, group: str) -> dict[str, list[str]]:
    described = client.describe_log_streams(logGroupName=group)["logStreams"]
    return {s["logStreamName"]: read_back(client, group, s["logStreamName"]) for s in described}


def hold_the_first_send(client) -> tuple[threading.Event, threading.Event]:
    """(entered, release): the sender thread waits inside its first call until released."""
    entered, release = threading.Event(), threading.Event()

    def hold(**kwargs):
        entered.set()
        release.wait(30)

    client.meta.events.register("before-send.cloudwatch-logs.PutLogEvents", hold)
    return entered, release


def test_a_forked_child_ships_its_lines_to_its_own_stream_and_not_its_parents(moto, aws_env):
    # The failure: the child kept the parent's sender thread, which a fork does not
    # copy. Its lines were never sent and its flush waited out the whole timeout; had
    # the child's copy of the queue been sent, the parent's lines would arrive twice.
    client, child, parent = fork_a_started_shipper(moto, "/test/fork", "free")
    assert child["flushed"] is True
    assert child["stream"] != parent["stream"]  # named after each one's pid
    assert child["own_client"] is True  # not on the connection the parent pooled
    # The parent's queued line is the parent's to send: neither sent again nor a drop.
    assert (child["delivered"], child["dropped"]) == (1, 0)
    assert streams_of(client, "/test/fork") == {
        parent["stream"]: ["parent shipped before the fork", "parent queued at the fork"],
        child["stream"]: ["child line"],
    }


def test_a_child_forked_while_a_thread_holds_the_shippers_lock_does_not_hang(moto, aws_env):
    # A thread of the parent inside write or flush at the fork left the child a copy of
    # the lock that no thread of the child would ever release: its first line hung it.
    client, child, parent = fork_a_started_shipper(moto, "/test/fork-held", "held")
    assert child != "hung"
    assert child["flushed"] is True
    assert streams_of(client, "/test/fork-held") == {
        parent["stream"]: ["parent shipped before the fork", "parent queued at the fork"],
        child["stream"]: ["child line"],
    }


def test_a_snapstart_restore_leaves_the_sender_thread_and_its_queue_alone(moto):
    # A restore is the same process, its threads carrying on: starting over there would
    # drop lines the running thread is about to send and start a second sender.
    client = moto.client("logs")
    shipper = CloudWatchLogsShipper("/test/restore", client=client, flush_interval=0.05)
    entered, release = hold_the_first_send(client)
    shipper.write("in flight at the restore")
    assert entered.wait(10)
    shipper.write("queued at the restore")
    stream, thread = shipper.log_stream, shipper._thread
    _copies.copied()
    try:
        release.set()
        assert shipper.flush(20)
        shipper.close()
    finally:
        _copies.generation -= 1
    assert (shipper.log_stream, shipper._thread) == (stream, thread)
    assert shipper.stats.dropped == 0
    assert read_back(client, "/test/restore", stream) == [
        "in flight at the restore",
        "queued at the restore",
    ]
