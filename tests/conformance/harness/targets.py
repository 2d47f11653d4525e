"""The apps the conformance transports serve, and how each transport is started."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from daloy_edge import App
from tests.conformance.harness import inprocess, servers, workers
from tests.conformance.harness.client import Transport
from tests.conformance.harness.gateways import CLIENT_IP
from tests.support.workers import PyodideHarness

ROOT = servers.ROOT

SESSION_KEYS = (
    "conformance-session-key-0123456789abcdefghijklmnop",
    "conformance-older-session-key-0123456789abcdefgh",
)
JWT_ISSUER = "https://idp.conformance.example"
JWT_AUDIENCE = "api://conformance"
ADMIN_USER = "ops"
ADMIN_PASSWORDS = ("current-admin-password-0123", "previous-admin-password-4567")
WEBHOOK_SECRETS = ("current-webhook-secret-0123456789", "previous-webhook-secret-987654321")
CORS_ORIGIN = "https://app.conformance.example"
ADMIN_CLIENTS = "127.0.0.1/32,::1/128," + CLIENT_IP + "/32"
"""Every address a transport presents as the client: loopback for the servers, the
in-process ASGI transport and Workers (``cf-connecting-ip``), the recorded events'
source IP for the Lambda shapes."""

CONFORMANCE_ENV = {
    "DALOY_ENV": "production",
    "DALOY_REQUEST_TIMEOUT_MS": "400",
    "DALOY_MAX_BODY_BYTES": "65536",
    # Fixed, so every process of a transport (and every worker) signs sessions alike.
    "DALOY_SESSION_KEYS": ",".join(SESSION_KEYS),
    "DALOY_JWT_ISSUER": JWT_ISSUER,
    "DALOY_JWT_AUDIENCE": JWT_AUDIENCE,
    "DALOY_ADMIN_USER": ADMIN_USER,
    "DALOY_ADMIN_PASSWORDS": ",".join(ADMIN_PASSWORDS),
    "DALOY_ADMIN_CIDRS": ADMIN_CLIENTS,
    "DALOY_WEBHOOK_SECRETS": ",".join(WEBHOOK_SECRETS),
    "DALOY_CORS_ORIGINS": CORS_ORIGIN,
    # Loopback only: /fetch may then reach the test upstream on 127.0.0.1, nothing else.
    "DALOY_EGRESS_ALLOW_CIDRS": "127.0.0.0/8",
}
"""Environment every transport's copy of the reference app is built from; the session
adds ``DALOY_JWKS_FILE`` (a key generated per run)."""

CLOSED_ENV = {
    "DALOY_ENV": "production",
    "DALOY_REQUEST_TIMEOUT_MS": "400",
    "DALOY_SESSION_KEYS": SESSION_KEYS[0],
    # No transport's client is in this documentation range.
    "DALOY_ADMIN_CIDRS": "203.0.113.0/24",
}
"""The reference app with nothing optional configured: no JWKS, no issuer, no admin user,
no webhook secrets, and an admin allow-list that no test client is in."""


@dataclass(frozen=True)
class Target:
    """An app module exposing ``asgi``, ``lambda_handler`` and ``gcf_handler``."""

    key: str
    module: str
    gcf_source: Path
    env: Mapping[str, str] = field(default_factory=dict)

    def build(self, env: Mapping[str, str]) -> App:
        factory: Callable[[Mapping[str, str]], App] = importlib.import_module(
            self.module
        ).create_app
        return factory(dict(env))


REFERENCE = Target(
    "reference", "examples.secure_app", ROOT / "examples/gcf/main.py", CONFORMANCE_ENV
)
CLOSED = Target("closed", "examples.secure_app", ROOT / "examples/gcf/main.py", CLOSED_ENV)
PROBE = Target(
    "probe", "tests.conformance.probe_app", ROOT / "tests/conformance/probe_app.py", CONFORMANCE_ENV
)

SERVER_TRANSPORTS = ("uvicorn", "awslambdaric-http-v2", "functions-framework", "workers")
"""Transports that start a child process (Node + Pyodide for ``workers``)."""
IN_PROCESS = ("asgi", "lambda-", "mangum-")
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
    "workers",
)


def transport_params() -> list[object]:
    """``TRANSPORTS`` as pytest params; the ones that start servers are marked slow."""
    return [
        pytest.param(name, marks=pytest.mark.slow) if name in SERVER_TRANSPORTS else name
        for name in TRANSPORTS
    ]


class Pool:
    """One transport per (target, kind) for the whole session, started on first use.

    ``workers`` is the session's Pyodide harness, set before the first ``workers``
    transport is asked for (the conftest does, so Pyodide starts only when needed).
    """

    def __init__(
        self, logs: Path, extra_env: Mapping[str, Mapping[str, str]] | None = None
    ) -> None:
        self.logs = logs
        self.extra_env = dict(extra_env or {})
        self.open: dict[tuple[str, str], Transport] = {}
        self.failed: dict[tuple[str, str], str] = {}
        self.spares: list[Transport] = []
        self.workers: PyodideHarness | None = None

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

    def isolated(self, target: Target, kind: str) -> Transport:
        """A new in-process transport of ``kind`` with an app of its own, for a test whose
        state (a rate-limit quota) must not be shared with any other test."""
        if not kind.startswith(IN_PROCESS):
            raise ValueError(f"{kind} starts a process; only in-process kinds are isolated")
        transport = self._start(target, kind)
        self.spares.append(transport)
        return transport

    def env_for(self, target: Target) -> dict[str, str]:
        """The environment ``target`` is served with in this session."""
        return {**target.env, **self.extra_env.get(target.key, {})}

    def _start(self, target: Target, kind: str) -> Transport:
        log = self.logs / f"{target.key}-{kind}.log"
        env = self.env_for(target)
        if kind == "asgi":
            return inprocess.ASGITransport(target.build(env))
        if kind.startswith("lambda-"):
            return inprocess.lambda_transport(target.build(env), kind.removeprefix("lambda-"))
        if kind.startswith("mangum-"):
            return inprocess.mangum_transport(target.build(env), kind.removeprefix("mangum-"))
        if kind == "uvicorn":
            return servers.start_uvicorn(target.module, env, log)
        if kind.startswith("awslambdaric-"):
            shape = kind.removeprefix("awslambdaric-")
            return servers.start_awslambdaric(f"{target.module}.lambda_handler", shape, env, log)
        if kind == "functions-framework":
            return servers.start_functions_framework(target.gcf_source, env, log)
        if kind == "workers":
            if self.workers is None:
                raise RuntimeError("the Pyodide harness was not handed to the pool")
            return workers.start_workers(self.workers, target.key, target.module, env)
        raise ValueError(kind)

    def close(self) -> None:
        for transport in [*self.open.values(), *self.spares]:
            transport.close()
        self.open.clear()
        self.spares.clear()
