"""Fresh interpreters for the Lambda contenders: cold runs and warm workers.

Every child runs in ``bench/.deploy`` with only that directory on its path (see
:mod:`bench._env`), whatever the contender.

A child's stdout (where apps write their per-request log lines) goes to /dev/null; it
reports on stderr, one line starting with ``BENCH``, so warnings never mix with figures.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping

from bench._env import DEPLOY, ensure_deploy_dir

PREFIX = "BENCH "
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
    "AWS_LAMBDA_LOG_STREAM_NAME": "stream",
    "AWS_REGION": "us-east-1",
}
# A cold start ends with the first answer: the child then leaves without the interpreter's
# teardown (module clean-up and a final garbage collection), which a serverless runtime
# never runs on a request's path. The baseline leaves the same way.
END_AT_ONCE = """
import os, sys
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
"""
BARE_INTERPRETER = "import os; os._exit(0)"
"""The baseline cold starts are measured over: an interpreter that starts and leaves."""
COLD_CASE = "cold start, {unit} over a bare interpreter"

PROLOGUE = """
class Context:
    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self):
        return 30_000
"""


class ChildError(RuntimeError):
    """A child process failed; the message carries its stderr."""


def child_env(extra: Mapping[str, str] = {}, *, lambda_env: bool = True) -> dict[str, str]:
    """A contender process's environment: the deployment directory on the path, no inherited
    ``DALOY_*``/``AWS_*`` variables, Lambda's own variables unless ``lambda_env`` is False."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DALOY_", "AWS_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled once, like a deployed package
    env.pop("BENCH_QUICK", None)
    runtime = LAMBDA_ENV if lambda_env else {}
    return {**env, **runtime, "PYTHONPATH": str(ensure_deploy_dir()), **extra}


def _report(stderr: str, code: str) -> str:
    for line in stderr.splitlines():
        if line.startswith(PREFIX):
            return line.removeprefix(PREFIX)
    raise ChildError(f"no result from child:\n{code}\n--- stderr ---\n{stderr}")


def cold(python: str, code: str, env: Mapping[str, str]) -> tuple[float, str]:
    """Run ``code`` in a fresh process: wall milliseconds and the child's report ('' if none)."""
    start = time.perf_counter()
    done = subprocess.run(
        [python, "-c", code],
        cwd=DEPLOY,
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise ChildError(f"child failed ({done.returncode}):\n{code}\n{done.stderr}")
    return wall, (_report(done.stderr, code) if PREFIX in done.stderr else "")


class Worker:
    """A warm contender process that times ``n`` invocations each time it is asked."""

    def __init__(self, python: str, code: str, env: Mapping[str, str]) -> None:
        self.code = code
        self.proc = subprocess.Popen(
            [python, "-c", code],
            cwd=DEPLOY,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def time_us(self, n: int) -> float:
        """Mean µs per invocation over ``n`` invocations."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        try:
            self.proc.stdin.write(f"{n}\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        seen = []
        for line in self.proc.stderr:
            if line.startswith(PREFIX):
                return float(line.removeprefix(PREFIX))
            seen.append(line)
        self.proc.wait()
        raise ChildError(f"worker died:\n{self.code}\n--- stderr ---\n{''.join(seen)}")

    def close(self) -> None:
        """Stop the worker (end of its input)."""
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
