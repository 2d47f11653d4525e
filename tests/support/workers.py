"""Our Cloudflare adapter inside real Pyodide under Node, driven from pytest.

The Python Workers runtime (workerd with its Pyodide bundle) cannot run offline, so the
tests load what it loads into npm ``pyodide``: our wheels built from this checkout, the
real ``workers-runtime-sdk`` and PyJWT (copied from this environment, pinned by uv.lock),
and the Worker bundle of ``examples/workers`` at ``/session/metadata`` as on Workers.
Only the SDK's two runtime-only modules are stand-ins (``tests/workers/pyodide/``).

One Node process serves the whole session (Pyodide loads once, ~4 s) and speaks JSON
lines (``tests/workers/harness.mjs``); JS ``Request`` objects are built in Node and JS
``Response`` objects read back there, so nothing crosses as a Python shortcut.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import importlib.metadata
import itertools
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import ROOT

HARNESS_DIR = ROOT / "tests" / "workers"
MAIN_DIR = "/session/metadata"
WHEELS = (
    "daloy-edge",
    "daloy-edge-asgi",
    "daloy-edge-aws-lambda",
    "daloy-edge-gcp-functions",
    "daloy-edge-cloudflare",
)
"""Every workspace member: apps that name other adapters' entry points still import."""
COPIED_DISTRIBUTIONS = ("workers-runtime-sdk", "PyJWT")
REPLY_TIMEOUT_S = 60.0
PYODIDE_ENV = "DALOY_PYODIDE"
"""Names another npm ``pyodide`` package directory to run the Workers tests on (the
release an older compatibility date selects); unset, the locked one in ``tests/workers``."""

HELD_REQUEST_CONTEXTS = """
import asyncio
import gc

from daloy_edge.observability._logger import _active


async def main():
    return sum(
        1
        for held in gc.get_objects()
        if isinstance(held, asyncio.Handle)
        and getattr(held._context.get(_active), "request_id", "").startswith("held-probe-")
    )
"""
"""A snippet for :meth:`PyodideHarness.run`: how many timers (cancelled ones included,
which Pyodide's loop keeps until their time) hold the context, the log record, of a
request sent with an ``X-Request-Id`` starting ``held-probe-``. Only those are counted:
other tests' requests in the same isolate may hold theirs by design (a timer a handler
arms itself)."""


def runtime_encoded(body: bytes, headers: Sequence[tuple[str, str]], encode_body: str) -> bytes:
    """The body as workerd sends it: with ``encodeBody: "automatic"`` (the default) the
    runtime itself encodes the body as ``Content-Encoding`` says, so a body the app
    already compressed is compressed twice unless the Response says ``"manual"``."""
    encoding = next((v.strip().lower() for k, v in headers if k == "content-encoding"), "")
    if encode_body == "manual" or not body:
        return body
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "br":
        import brotli

        return bytes(brotli.compress(body))
    return body


class HarnessError(RuntimeError):
    """The harness (Node or Python inside Pyodide) reported a failure."""


@dataclass(frozen=True)
class WorkerResponse:
    """A JS ``Response`` as Node read it: every header pair, Set-Cookie entries kept apart."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    encode_body: str = "automatic"
    """The JS Response's ``encodeBody``; the body above is already as the runtime sends it."""
    pulled: int = 0
    deferred: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    """Each direct console call: its method (the level Workers Logs records) and text."""
    refused_by_platform: str | None = None
    """Set when no JS ``Request`` can carry this request (the edge answers 400 itself)."""

    def header(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self.headers if k == key]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


class PyodideHarness:
    """The Node process running Pyodide; one request at a time."""

    def __init__(self, proc: subprocess.Popen[str], stderr_path: Path) -> None:
        self._proc = proc
        self._stderr_path = stderr_path
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._replies: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        started = self._await_reply(0)
        self.load_ms = started["load_ms"]
        self.pyodide_version: str = started["version"]

    def _pump(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._replies.put(line)
        self._replies.put("")

    def _await_reply(self, expected: int) -> Any:
        try:
            line = self._replies.get(timeout=REPLY_TIMEOUT_S)
        except queue.Empty:
            raise HarnessError(f"no reply within {REPLY_TIMEOUT_S} s{self._stderr()}") from None
        if not line:
            raise HarnessError(f"the harness exited{self._stderr()}")
        message = json.loads(line)
        if message["id"] != expected:
            raise HarnessError(f"reply {message['id']} for request {expected}")
        if not message["ok"]:
            logs = "\n".join(message.get("stderr", []))
            raise HarnessError(f"{message['error']}\n{logs}".strip())
        self.last_stdout: list[str] = message.get("stdout", [])
        self.last_console = [(level, text) for level, text in message.get("console", [])]
        return message["result"]

    def _stderr(self) -> str:
        text = self._stderr_path.read_text(errors="replace")[-4000:]
        return f"\n{text}" if text else ""

    def call(self, op: str, **fields: Any) -> Any:
        """Send one request and wait for its reply."""
        with self._lock:
            request_id = next(self._ids)
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps({"id": request_id, "op": op, **fields}) + "\n")
            self._proc.stdin.flush()
            return self._await_reply(request_id)

    def run(self, code: str) -> Any:
        """Run ``code`` in Pyodide; it defines ``async def main()`` returning JSON-able data."""
        return self.call("run", code=code)

    def write_files(self, pairs: Sequence[tuple[Path | str, str]]) -> None:
        """Copy host files into the Pyodide file system (absolute target paths)."""
        self.call("files", files=[[str(src), dst] for src, dst in pairs])

    def add_worker(self, name: str, app_module: str, sources: Sequence[Path] = ()) -> str:
        """A Worker module ``name`` serving ``app_module.create_app``; returns its entry.

        ``sources`` (files under the repository) are copied to the same relative place
        under the Worker's module directory, so ``app_module`` imports there.
        """
        self.write_files(
            [(src, f"{MAIN_DIR}/{src.relative_to(ROOT).as_posix()}") for src in sources]
        )
        entry = (
            "from daloy_edge_cloudflare import entrypoint\n"
            f"from {app_module} import create_app\n"
            "Default = entrypoint(create_app)\n"
        )
        self.call("write", files=[[f"{MAIN_DIR}/{name}.py", entry]])
        return f"{name}:Default"

    def fetch(
        self,
        method: str,
        url: str,
        *,
        entry: str = "entry:Default",
        isolate: str = "default",
        env: Mapping[str, str] | None = None,
        bindings: Sequence[str] = (),
        headers: Sequence[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes | None = None,
        chunks: Sequence[bytes] | None = None,
        error_after: int | None = None,
    ) -> WorkerResponse:
        """Build a JS ``Request`` in Node, serve it with ``entry`` and read the JS ``Response``.

        ``chunks`` sends the body as a pulled ``ReadableStream``; the reply's ``pulled``
        counts how many chunks the Worker actually read. ``error_after`` errors that stream
        once so many chunks were pulled, as a dropped upload does.
        """
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        spec: dict[str, Any] = {"method": method, "url": url, "headers": pairs}
        if chunks is not None:
            spec["chunks"] = [base64.b64encode(c).decode() for c in chunks]
            spec["error_after"] = error_after
        elif body is not None:
            spec["body"] = base64.b64encode(body).decode()
        result = self.call(
            "fetch",
            entry=entry,
            isolate=isolate,
            env=dict(env or {}),
            bindings=list(bindings),
            request=spec,
        )
        if "refused" in result:
            return WorkerResponse(400, [], b"", refused_by_platform=result["refused"])
        headers_out = [(k, v) for k, v in result["headers"]]
        return WorkerResponse(
            status=result["status"],
            headers=headers_out,
            body=runtime_encoded(
                base64.b64decode(result["body"]), headers_out, result["encode_body"]
            ),
            encode_body=result["encode_body"],
            pulled=result["pulled"],
            deferred=result["deferred"] if isinstance(result["deferred"], list) else [],
            stdout=self.last_stdout,
            console=self.last_console,
        )


@dataclass
class WorkersClient:
    """The uniform conformance client over the harness: ``send(method, target, headers, body)``.

    ``target`` is the request target as sent (percent-encoded path, optional ``?query``).
    A ``Host`` header becomes the URL's authority, as on Workers. Each client is its own
    isolate, so its ``env`` builds its own app; ``cf-connecting-ip`` is ``client_ip``.
    """

    harness: PyodideHarness
    env: Mapping[str, str] = field(default_factory=dict)
    isolate: str = "conformance"
    entry: str = "entry:Default"
    host: str = "worker.example"
    client_ip: str | None = "127.0.0.1"

    def send(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> WorkerResponse:
        if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
            # Not a valid HTTP request-target: the edge refuses it before any Worker runs
            # (a JS URL would instead strip tabs and line breaks silently).
            return WorkerResponse(400, [], b"", refused_by_platform="invalid request-target")
        host = self.host
        pairs: list[tuple[str, str]] = []
        for name, value in headers:
            if name.lower() == "host":
                host = value
            else:
                pairs.append((name, value))
        if self.client_ip and not any(k.lower() == "cf-connecting-ip" for k, _ in pairs):
            pairs.append(("cf-connecting-ip", self.client_ip))
        return self.harness.fetch(
            method,
            f"https://{host}{target}",
            entry=self.entry,
            isolate=self.isolate,
            env=self.env,
            headers=pairs,
            body=body if body or method not in ("GET", "HEAD") else None,
        )

    def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes = b"",
    ) -> WorkerResponse:
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        return self.send(method.upper(), target, pairs, body)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: run scripts/system-deps.sh")
    return node


def pyodide_package() -> Path:
    """The npm ``pyodide`` package the harness loads: :data:`PYODIDE_ENV`'s, or the locked one.

    Skips the Workers tests, naming the variable, when the package it names is missing.
    """
    other = os.environ.get(PYODIDE_ENV)
    if not other:
        return HARNESS_DIR / "node_modules" / "pyodide"
    package = Path(other).resolve()
    if not (package / "pyodide.mjs").is_file():
        pytest.skip(
            f"{PYODIDE_ENV}={other} holds no pyodide package: "
            "npm install pyodide@<version> in a folder and name its node_modules/pyodide"
        )
    return package


def _build_wheels(out: Path) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to build the wheels loaded into Pyodide")
    builds = [
        subprocess.Popen(
            [uv, "build", "--wheel", "--package", name, "--out-dir", str(out), "--quiet"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in WHEELS
    ]
    for name, build in zip(WHEELS, builds, strict=True):
        _, err = build.communicate(timeout=300)
        if build.returncode != 0:
            raise HarnessError(f"building the {name} wheel failed:\n{err}")


def _distribution_files(name: str) -> list[list[str]]:
    """A pure-Python distribution installed here, as (host path, site-packages path) pairs."""
    dist = importlib.metadata.distribution(name)
    pairs = []
    for item in dist.files or ():
        parts = Path(str(item)).parts
        if ".." in parts or "__pycache__" in parts or item.suffix in (".pyc", ".pth"):
            continue
        pairs.append([str(dist.locate_file(item)), str(item)])
    return pairs


def _tree(source: Path, target: str) -> list[list[str]]:
    return [
        [str(path), f"{target}/{path.relative_to(source).as_posix()}"]
        for path in sorted(source.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]


def bundle_example(out: Path) -> Path:
    """The Worker bundle of ``examples/workers`` as its build step makes it."""
    subprocess.run(
        ["sh", str(ROOT / "examples" / "workers" / "bundle.sh"), str(out)],
        check=True,
        capture_output=True,
    )
    return out


@contextlib.contextmanager
def pyodide_harness() -> Iterator[PyodideHarness]:
    """Start Node + Pyodide, build and load everything, yield the harness, stop it."""
    node = _node()
    subprocess.run([str(ROOT / "scripts" / "workers-harness.sh")], check=True)
    env = {**os.environ, PYODIDE_ENV: str(pyodide_package())}
    with tempfile.TemporaryDirectory(prefix="daloy-workers-") as tmp:
        work = Path(tmp)
        stderr_path = work / "node-stderr.log"
        with stderr_path.open("w") as stderr:
            proc = subprocess.Popen(
                [node, "harness.mjs"],
                cwd=HARNESS_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
            )
        try:
            _build_wheels(work / "wheels")
            bundle = bundle_example(work / "bundle")
            harness = PyodideHarness(proc, stderr_path)
            files = [pair for name in COPIED_DISTRIBUTIONS for pair in _distribution_files(name)]
            files += _tree(HARNESS_DIR / "pyodide", "/harness")
            files += _tree(bundle, MAIN_DIR)
            files += _tree(HARNESS_DIR / "worker_modules", MAIN_DIR)
            harness.call(
                "install",
                wheels=sorted(str(p) for p in (work / "wheels").glob("*.whl")),
                files=files,
                path=["/harness", MAIN_DIR],
                module="_harness",
            )
            yield harness
        finally:
            if proc.poll() is None:
                if proc.stdin is not None:
                    with contextlib.suppress(OSError):
                        proc.stdin.close()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="session")
def workers_harness() -> Iterator[PyodideHarness]:
    """Session-wide Pyodide with our wheels, the workers SDK and the example Worker."""
    with pyodide_harness() as harness:
        yield harness
