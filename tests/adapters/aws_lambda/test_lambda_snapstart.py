"""Lambda SnapStart: every environment restored from one snapshot is a copy of the process.

The real runtime cannot run here. The copies are made with libc's ``fork()``, which runs
none of Python's at-fork hooks, as a restore runs none; each copy then runs the
after-restore hooks with awslambdaric's own hook runner, the code the runtime runs after
a restore, over the real ``snapshot_restore_py`` registry.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from daloy_edge_aws_lambda._handler import hook_snapstart_restore

from daloy_edge import _copies

ROOT = Path(__file__).resolve().parents[3]

RESTORED_TWICE = """
import ctypes, os, sys

from examples.secure_app import lambda_handler
from daloy_edge._idbytes import id_bytes

def health():
    path = "/health"
    http = {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7"}
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "api.example.com"}, "isBase64Encoded": False,
        "requestContext": {"http": http, "requestId": "r", "stage": "$default"},
    }
    return lambda_handler(event, None)["headers"]["x-request-id"]

health()  # priming during init, as SnapStart's guide suggests: the block is now filled
read, write = os.pipe()
pid = ctypes.CDLL(None).fork()  # no at-fork hook runs, as none runs at a restore
from awslambdaric.lambda_runtime_hooks_runner import run_after_restore
run_after_restore()
ids = f"{health()} {id_bytes(16).hex()}"
if pid == 0:
    os.write(write, ids.encode())
    os._exit(0)
os.waitpid(pid, 0)
print(ids)
print(os.read(read, 200).decode())
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="this platform has no fork")
def test_environments_restored_from_one_snapshot_hand_out_different_ids() -> None:
    # The failure: every environment restored from the snapshot handed out the request,
    # trace and span ids left in the snapshot's block of random bytes, so requests served
    # by different environments had the same X-Request-Id and their traces and log lines
    # were taken for one another's.
    pytest.importorskip("awslambdaric")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DALOY_", "AWS_"))}
    env.update(AWS_LAMBDA_INITIALIZATION_TYPE="snap-start", AWS_LAMBDA_FUNCTION_NAME="snap")
    done = subprocess.run(
        [sys.executable, "-c", RESTORED_TWICE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    first, second = (line.split() for line in done.stdout.splitlines()[-2:])
    assert len(first) == len(second) == 2
    assert first[0] != second[0]  # X-Request-Id
    assert first[1] != second[1]  # the bytes trace and span ids are drawn from


def test_snapstart_restores_run_the_copy_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the runtime's registry is faked: the real one would keep the hook for the rest
    # of the test session.
    registered: list[object] = []
    fake = types.ModuleType("snapshot_restore_py")
    fake.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    assert hook_snapstart_restore({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"})
    assert registered == [_copies.copied]


@pytest.mark.parametrize("kind", ["on-demand", "provisioned-concurrency", ""])
def test_no_snapstart_hook_outside_snapstart(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # an import would raise
    assert not hook_snapstart_restore({"AWS_LAMBDA_INITIALIZATION_TYPE": kind} if kind else {})


def test_snapstart_without_the_runtime_module_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)
    assert not hook_snapstart_restore({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"})
    assert "may repeat request and trace ids" in capsys.readouterr().err


def test_start_up_state_bound_while_priming_still_serves_after_a_restore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The failure: a restore swapped the runner's event loop for a new one, so whatever
    # start-up hooks run while priming had bound to the snapshot's loop (a client's pool,
    # a background task) was left behind: every request after the restore failed with
    # "bound to a different event loop", or waited on a task that never ran again.
    import asyncio

    from daloy_edge_aws_lambda import handler

    from daloy_edge import App

    app = App(request_timeout=2)
    jobs: list[asyncio.Queue[asyncio.Future[str]]] = []
    workers: list[asyncio.Task[None]] = []

    async def answer(queue: asyncio.Queue[asyncio.Future[str]]) -> None:
        for _ in range(2):  # the priming request and the restored one
            (await queue.get()).set_result("done")

    async def start_worker() -> None:
        jobs.append(asyncio.Queue())
        workers.append(asyncio.create_task(answer(jobs[0])))

    app.on_startup(start_worker)

    @app.get("/job")
    async def job(request: object) -> dict[str, str]:
        reply = asyncio.get_running_loop().create_future()
        await jobs[0].put(reply)
        return {"job": await reply}

    serve = handler(app)
    http = {"method": "GET", "path": "/job", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7"}
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/job",
        "rawQueryString": "",
        "headers": {"host": "api.example.com"},
        "isBase64Encoded": False,
        "requestContext": {"http": http, "requestId": "r", "stage": "$default"},
    }
    primed = serve(event, None)
    assert primed["statusCode"] == 200, primed  # priming during init
    monkeypatch.setattr(_copies, "generation", _copies.generation + 1)  # restored
    result = serve(event, None)
    assert (result["statusCode"], result["body"]) == (200, '{"job":"done"}')
