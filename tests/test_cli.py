from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

import daloy_edge
from daloy_edge.cli import main
from daloy_edge.commands.dev import dev_environment, load_target
from tests.support.servers import ROOT, wait_until_serving


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "dev" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_dev_environment_generates_ephemeral_keys() -> None:
    environ: dict[str, str] = {}
    generated = dev_environment(environ)
    assert "DALOY_SESSION_KEYS" in generated
    assert len(environ["DALOY_SESSION_KEYS"]) >= 48
    assert environ["DALOY_ENV"] == "development"


def test_dev_environment_keeps_configured_keys() -> None:
    environ = {"DALOY_SESSION_KEYS": "k" * 40, "DALOY_ENV": "production"}
    assert dev_environment(environ) == []
    assert environ["DALOY_ENV"] == "production"


def test_load_target_refuses_an_app_object() -> None:
    with pytest.raises(SystemExit, match="ASGI callable"):
        load_target("examples.secure_app:app")


@pytest.mark.slow
def test_dev_server_serves_the_reference_app_with_a_warning() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DALOY_SESSION_KEYS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "daloy_edge.cli", "dev", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(port)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "DEVELOPMENT ONLY" in err


def test_version_prints_the_installed_release(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"daloy-edge {daloy_edge.__version__}\n"
