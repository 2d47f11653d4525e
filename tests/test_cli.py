from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

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


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    """The command in a child process whose stdout encoding ``env`` decides."""
    child = {k: v for k, v in os.environ.items() if not k.startswith("DALOY_")}
    child.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "daloy_edge.cli", *args],
        cwd=cwd,
        env=child,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_check_reports_a_foreign_script_origin_to_a_stdout_that_cannot_encode_it(
    encoding: str,
) -> None:
    # A Cyrillic letter in an origin, reported to a Windows pipe or an ASCII terminal.
    done = _cli(
        ["check"],
        ROOT,
        PYTHONIOENCODING=encoding,
        DALOY_CORS_ORIGINS="https://\u0430pp.example/",
        DALOY_SESSION_KEYS="Zq3v8Jw1Rk5Tn0Yb7Lc2Hx9Pd4Mf6Gs1Ae8Ku3Ni5Wo",
    )
    assert b"Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    assert b"[cors-invalid-origin]" in done.stdout
    assert b"https://\\u0430pp.example/" in done.stdout
    assert done.stdout.endswith(b"daloy-edge check: 1 error(s), 0 warning(s)\n")


def test_verify_reports_a_file_name_that_is_not_utf8_under_a_utf8_locale(
    tmp_path: Path,
) -> None:
    # Linux file names are bytes: a Latin-1 "é" reaches Python as a lone surrogate,
    # which a strict UTF-8 stdout (any UTF-8 locale but C.UTF-8) refuses to print.
    name = os.fsdecode(b"caf\xe9.py")
    (tmp_path / name).write_text("import random\ntoken = random.random()\n", encoding="utf-8")
    done = _cli(["verify", "--only", "weak-random", "."], tmp_path, PYTHONIOENCODING="utf-8")
    assert b"Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    assert b"caf\\udce9.py:2:" in done.stdout
