"""One uvicorn process per ASGI contender, on 127.0.0.1 only, and what /proc says of it."""

from __future__ import annotations

import contextlib
import http.client
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench import _child
from bench._env import ensure_deploy_dir


@dataclass(frozen=True)
class Served:
    """A running server: its port and process id."""

    port: int
    pid: int


def wait_until_serving(port: int, path: str, timeout: float = 30.0) -> None:
    """Block until a GET of ``path`` is answered (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not answer {path}")


def _port_from_log(log: Path, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", log.read_text())
        if found:
            return int(found.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"uvicorn did not start:\n{log.read_text()}")


@contextlib.contextmanager
def uvicorn(
    python: str,
    target: str,
    *,
    env: Mapping[str, str] = {},
    factory: bool = False,
    path: str,
    http: str = "h11",
    loop: str = "asyncio",
    access_log: bool = False,
) -> Iterator[Served]:
    """Serve ``target`` with one uvicorn worker on 127.0.0.1, port 0 (by default h11 and
    the asyncio loop; ``uvicorn[standard]`` deployments run httptools and uvloop). Its
    access log is off unless ``access_log`` (uvicorn's own default is on).

    Not ``--fd``: uvicorn wraps an inherited descriptor as a Unix socket, so asyncio leaves
    Nagle's algorithm on and small responses wait for delayed ACKs (~40 ms each).
    """
    args = [python, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", "0"]
    args += ["--http", http, "--loop", loop, "--log-level", "info"]
    if not access_log:
        args.append("--no-access-log")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "uvicorn.log"
        with log.open("wb") as stderr:
            proc = subprocess.Popen(
                [*args, "--factory"] if factory else args,
                cwd=ensure_deploy_dir(),
                env=_child.child_env(env, lambda_env=False),
                stdout=subprocess.DEVNULL,  # the per-request log lines, access lines too
                stderr=stderr,
            )
        try:
            port = _port_from_log(log, proc)
            wait_until_serving(port, path)
            yield Served(port, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def reset_peak(pid: int) -> bool:
    """Make VmHWM start again from the current RSS (``clear_refs``); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True
