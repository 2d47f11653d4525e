"""The apps the conformance transports serve, and how each transport is started."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from daloy_edge import App
from tests.conformance.harness import inprocess, servers
from tests.conformance.harness.client import Transport

ROOT = servers.ROOT

CONFORMANCE_ENV = {
    "DALOY_ENV": "production",
    "DALOY_REQUEST_TIMEOUT_MS": "400",
    "DALOY_MAX_BODY_BYTES": "65536",
    # Fixed, so every process of a transport (and every worker) signs sessions alike.
    "DALOY_SESSION_KEYS": "conformance-session-key-0123456789abcdefghijklmnop",
}
"""Environment every transport's copy of the reference app is built from."""


@dataclass(frozen=True)
class Target:
    """An app module exposing ``asgi``, ``lambda_handler`` and ``gcf_handler``."""

    key: str
    module: str
    gcf_source: Path
    env: Mapping[str, str] = field(default_factory=dict)

    def build(self) -> App:
        factory: Callable[[Mapping[str, str]], App] = importlib.import_module(
            self.module
        ).create_app
        return factory(dict(self.env))


REFERENCE = Target(
    "reference", "examples.secure_app", ROOT / "examples/gcf/main.py", CONFORMANCE_ENV
)
PROBE = Target(
    "probe", "tests.conformance.probe_app", ROOT / "tests/conformance/probe_app.py", CONFORMANCE_ENV
)

SERVER_TRANSPORTS = ("uvicorn", "awslambdaric-http-v2", "functions-framework")
TRANSPORTS = (
    "asgi",
    "uvicorn",
    "lambda-rest-v1",
    "lambda-http-v2",
    "lambda-function-url",
    "lambda-alb",
    "lambda-alb-multi",
    "awslambdaric-http-v2",
    "mangum-rest-v1",
    "mangum-http-v2",
    "mangum-alb-multi",
    "functions-framework",
)


def transport_params() -> list[object]:
    """``TRANSPORTS`` as pytest params; the ones that start servers are marked slow."""
    return [
        pytest.param(name, marks=pytest.mark.slow) if name in SERVER_TRANSPORTS else name
        for name in TRANSPORTS
    ]


class Pool:
    """One transport per (target, kind) for the whole session, started on first use."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.open: dict[tuple[str, str], Transport] = {}
        self.failed: dict[tuple[str, str], str] = {}

    def get(self, target: Target, kind: str) -> Transport:
        key = (target.key, kind)
        if key in self.failed:
            pytest.fail(f"{kind} did not start earlier in this session: {self.failed[key]}")
        if key not in self.open:
            try:
                self.open[key] = self._start(target, kind)
            except Exception as exc:
                self.failed[key] = str(exc)
                raise
        return self.open[key]

    def _start(self, target: Target, kind: str) -> Transport:
        log = self.logs / f"{target.key}-{kind}.log"
        if kind == "asgi":
            return inprocess.ASGITransport(target.build())
        if kind.startswith("lambda-"):
            return inprocess.lambda_transport(target.build(), kind.removeprefix("lambda-"))
        if kind.startswith("mangum-"):
            return inprocess.mangum_transport(target.build(), kind.removeprefix("mangum-"))
        if kind == "uvicorn":
            return servers.start_uvicorn(target.module, target.env, log)
        if kind.startswith("awslambdaric-"):
            shape = kind.removeprefix("awslambdaric-")
            return servers.start_awslambdaric(
                f"{target.module}.lambda_handler", shape, target.env, log
            )
        if kind == "functions-framework":
            return servers.start_functions_framework(target.gcf_source, target.env, log)
        raise ValueError(kind)

    def close(self) -> None:
        for transport in self.open.values():
            transport.close()
        self.open.clear()
