"""The reference app inside the limits Lambda sets, built with the kernel's own mechanisms.

A child process runs in a private mount namespace where the file systems holding the app,
its virtual environment and its interpreter are remounted read-only, ``/tmp`` (the only
place Lambda lets a function write) is a 64 KiB tmpfs, ``HOME`` is unset and
``RLIMIT_NOFILE`` is Lambda's 1024; where the interpreter is readable by other users, it
also runs as Lambda's unprivileged uid. It imports the app with no bytecode cache it may
write, serves the reference routes, and then runs out of file descriptors.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adapters.aws_lambda.sandboxed_reference import RESULTS_MARK

ROOT = Path(__file__).resolve().parents[3]
LAMBDA_UID = 993  # sbx_user1051, the uid Lambda's managed runtimes run functions as

pytestmark = [
    pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0,
        reason="needs root for a private mount namespace",
    ),
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("unshare", "prlimit", "mount")),
        reason="needs unshare, prlimit and mount (util-linux)",
    ),
]


def _mount_point(path: str) -> str:
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def _readable_by_others(path: str) -> bool:
    """Whether every folder above ``path`` lets other users through."""
    current = Path(os.path.realpath(path))
    return all(os.stat(folder).st_mode & stat.S_IXOTH for folder in current.parents)


def _sandboxed(module: str) -> subprocess.CompletedProcess[str]:
    sources = (str(ROOT), sys.prefix, sys.base_prefix, os.path.realpath(sys.executable))
    if any(Path(os.path.realpath(s)).is_relative_to("/tmp") for s in sources):
        pytest.skip("the checkout or interpreter is under /tmp, which the sandbox replaces")
    read_only = sorted({"/", *(_mount_point(s) for s in sources)})
    script = ["set -e", "mount --make-rprivate /"]
    script += [f"mount -o remount,bind,ro '{point}'" for point in read_only]
    script.append("mount -t tmpfs -o size=64k,mode=1777 tmpfs /tmp")
    user = ""
    if shutil.which("setpriv") and all(_readable_by_others(s) for s in sources):
        user = f"setpriv --reuid {LAMBDA_UID} --regid {LAMBDA_UID} --clear-groups"
    script.append(
        f"exec prlimit --nofile=1024:1024 {user} env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "
        f'AWS_LAMBDA_FUNCTION_NAME=sandboxed "{sys.executable}" -m {module}'
    )
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", "\n".join(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_read_only_lambda_layout_serves_writes_nothing_and_outlives_no_descriptors() -> None:
    """Read-only code, no HOME, a 64 KiB /tmp, 1024 descriptors: every route answers as
    the contract says and nothing is written; with every descriptor taken, /fetch is a 502
    problem and /health still answers, and once descriptors are freed /fetch works again
    (one request's failure poisons no pool)."""
    done = _sandboxed("tests.adapters.aws_lambda.sandboxed_reference")
    marked = [line for line in done.stderr.splitlines() if line.startswith(RESULTS_MARK)]
    assert done.returncode == 0 and marked, done.stderr[-3000:]
    report = json.loads(marked[-1].removeprefix(RESULTS_MARK))
    assert report["home"] is None
    assert report["code_writable"] is False
    assert dict(report["steps"]) == {
        "free health": 200,
        "free big": 200,
        "free login": 204,
        "free static": 200,
        "free boom": 500,
        "free fetch": 200,
        "no descriptors fetch": 502,
        "no descriptors health": 200,
        "freed fetch": 200,
        "freed health": 200,
    }
    assert report["tmp"] == []
    assert "Traceback" not in done.stderr


APP_THAT_FAILS_TO_IMPORT = """
import sys
from tests.adapters.aws_lambda.sandboxed_reference import main
sys.modules["examples.secure_app"] = None  # its import fails
main()
"""


def test_an_app_that_fails_to_import_leaves_no_upstream_serving() -> None:
    """The failure: the upstream forked before the app's import outlived a failed one,
    serving for good and holding the pipes open, so the test waited out its timeout."""
    child = subprocess.Popen(
        [sys.executable, "-c", APP_THAT_FAILS_TO_IMPORT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        _, stderr = "", "the pipes stayed open: something the script forked still runs"
    finally:
        # Every process the script made, whatever it left behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert "import of examples.secure_app halted" in stderr, stderr[-3000:]
