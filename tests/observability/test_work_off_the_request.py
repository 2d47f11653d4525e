"""Logging from work a request hands off: tasks, callbacks, threads, and no request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from daloy_edge import App, Request
from daloy_edge.observability import _bound, get_logger
from daloy_edge.testing import TestClient

IBAN = "DE89370400440532013000"


@pytest.fixture
def fresh_fallback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The logger used outside any request, built anew from the environment set here."""
    monkeypatch.setattr(_bound, "_fallback", None)
    yield


def stdout_records(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_logger_outside_a_request_redacts_the_keys_the_environment_names(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_fallback: None
) -> None:
    # The app redacted "iban" on its own records, as DALOY_LOG_REDACT_KEYS asked; a
    # helper logging from an executor thread (no request current) wrote it in clear.
    monkeypatch.setenv("DALOY_LOG_REDACT_KEYS", "iban")
    app = App()

    def settle() -> None:
        get_logger().warning("settlement queued", iban=IBAN)

    @app.get("/pay")
    async def pay(request: Request) -> dict[str, bool]:
        await asyncio.get_running_loop().run_in_executor(None, settle)
        return {"ok": True}

    TestClient(app).get("/pay")
    out = capsys.readouterr().out
    (settled,) = (r for r in stdout_records(out) if r["Body"] == "settlement queued")
    assert settled["Attributes"] == {"iban": "[REDACTED]"}
    assert IBAN not in out


def test_logger_outside_a_request_keeps_the_environment_log_level(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_fallback: None
) -> None:
    monkeypatch.setenv("DALOY_LOG_LEVEL", "WARN")
    get_logger().info("start-up detail")
    get_logger().warning("start-up warning")
    bodies = [r["Body"] for r in stdout_records(capsys.readouterr().out)]
    assert bodies == ["start-up warning"]
