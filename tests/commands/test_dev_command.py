"""``daloy-edge dev``: a dev server that cannot start says why in one line and leaves no key."""

from __future__ import annotations

import os
import socket
import stat
import sys
from pathlib import Path

import pytest

from daloy_edge.cli import main
from daloy_edge.commands import _devkey


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dev_key_files(project: Path) -> list[str]:
    state = project / ".daloy-edge-dev"
    return sorted(p.name for p in state.iterdir()) if state.exists() else []


def without_the_jwt_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make PyJWT and ``cryptography`` look not installed."""
    for name in [m for m in sys.modules if m.split(".")[0] in ("jwt", "cryptography")]:
        monkeypatch.setitem(sys.modules, name, None)
    for name in ("jwt", "cryptography"):
        monkeypatch.setitem(sys.modules, name, None)


def test_dev_without_the_jwt_extra_makes_no_dev_key_and_names_the_extra(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    without_the_jwt_extra(monkeypatch)
    assert main(["dev", "--port", str(free_port()), "no_such_module_for_dev:asgi"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "no dev signing key: dev bearer tokens need the 'jwt' extra" in err
    assert "pip install 'daloy-edge[jwt]'" in err
    assert err.splitlines()[-1].startswith("daloy-edge dev: cannot load no_such_module_for_dev")
    assert "DALOY_JWKS_FILE" not in os.environ
    assert dev_key_files(project) == []


def test_dev_with_a_missing_module_fails_in_one_line_and_deletes_the_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dev", "--port", str(free_port()), "no_such_module_for_dev:asgi"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        "daloy-edge dev: cannot load no_such_module_for_dev:asgi: "
        "No module named 'no_such_module_for_dev'"
    )
    assert dev_key_files(project) == []


@pytest.mark.parametrize("target", ["", ":asgi", ".asgi:asgi", "app..x:asgi"])
def test_dev_with_a_target_that_names_no_module_fails_in_one_line_and_deletes_the_key(
    project: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    assert main(["dev", "--port", str(free_port()), target]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"daloy-edge dev: cannot load {target}: ")
    assert "is not a module name" in err.splitlines()[-1]
    assert dev_key_files(project) == []


def test_dev_with_a_target_that_refuses_to_build_fails_in_one_line_and_deletes_the_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = "from daloy_edge import ConfigError\nraise ConfigError('DALOY_X: not allowed')\n"
    (project / "refusing_app_for_dev.py").write_text(source)
    assert main(["dev", "--port", str(free_port()), "refusing_app_for_dev:asgi"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1].endswith("refusing_app_for_dev:asgi: DALOY_X: not allowed")
    assert dev_key_files(project) == []


def test_dev_with_an_app_whose_start_up_fails_exits_1_and_deletes_the_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # uvicorn ends a failed start-up with its own status 3, which is no status this
    # command documents.
    source = (
        "from daloy_edge import App\n"
        "from daloy_edge_asgi import ASGIApp\n"
        "app = App(env={})\n"
        "@app.on_startup\n"
        "def connect():\n"
        "    raise RuntimeError('no database')\n"
        "asgi = ASGIApp(app)\n"
    )
    (project / "failing_start_for_dev.py").write_text(source)
    assert main(["dev", "--port", str(free_port()), "failing_start_for_dev:asgi"]) == 1
    assert "Application startup failed" in capsys.readouterr().err
    assert dev_key_files(project) == []


def test_dev_key_is_deleted_when_the_target_raises(project: Path) -> None:
    (project / "crashing_app_for_dev.py").write_text("raise RuntimeError('bug')\n")
    with pytest.raises(RuntimeError, match="bug"):
        main(["dev", "--port", str(free_port()), "crashing_app_for_dev:asgi"])
    assert dev_key_files(project) == []


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_dev_refuses_a_port_that_does_not_exist_before_making_a_key(
    project: Path, capsys: pytest.CaptureFixture[str], port: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["dev", f"--port={port}"])
    assert exit_info.value.code == 2
    assert f"argument --port: {port!r} is not a port number" in capsys.readouterr().err
    assert dev_key_files(project) == []


def test_dev_on_a_busy_port_leaves_the_running_servers_key_alone(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = project / ".daloy-edge-dev"
    _devkey.prepare_dev_identity({"DALOY_DEV_STATE_DIR": str(state)})
    running = (state / _devkey.KEY_FILE).read_bytes()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["dev", "--port", str(taken.getsockname()[1])]) == 1
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err
    assert (state / _devkey.KEY_FILE).read_bytes() == running


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("dev.example", False),
    ],
)
def test_only_loopback_addresses_count_as_this_machine_alone(host: str, loopback: bool) -> None:
    from daloy_edge.commands.dev import is_loopback

    assert is_loopback(host) is loopback


def test_dev_on_every_interface_warns_that_the_server_is_exposed(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bound to loopback whatever the flag says: tests listen on 127.0.0.1 only.
    from daloy_edge.commands import dev

    real = dev.listen_socket
    monkeypatch.setattr(dev, "listen_socket", lambda host, port: real("127.0.0.1", port))
    assert (
        main(["dev", "--host", "0.0.0.0", "--port", str(free_port()), "no_such_module:asgi"]) == 1
    )
    assert "listening on 0.0.0.0, not on this machine alone" in capsys.readouterr().err


def test_dev_in_production_mode_does_not_claim_to_show_stack_traces(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The app hides exception details then; a banner saying they are shown sends the user
    # looking for a trace that never comes.
    os.environ["DALOY_ENV"] = "production"
    assert main(["dev", "--port", str(free_port()), "no_such_module_for_dev:asgi"]) == 1
    err = capsys.readouterr().err
    assert "stack traces are shown" not in err
    assert "DALOY_ENV=production: errors carry no stack trace." in err


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o770], ids=oct)
def test_dev_refuses_a_state_dir_other_users_can_write_to(
    project: Path, capsys: pytest.CaptureFixture[str], mode: int
) -> None:
    # Whoever can replace the public JWKS in it mints tokens the dev server accepts.
    shared = project / "shared"
    shared.mkdir()
    shared.chmod(mode)
    os.environ["DALOY_DEV_STATE_DIR"] = str(shared)
    assert main(["dev", "--port", str(free_port()), "no_such_module_for_dev:asgi"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"daloy-edge dev: cannot create the dev key in {shared}: other users can write to it"
        " and replace the dev server's public key: point DALOY_DEV_STATE_DIR at a directory"
        " only you can write to"
    )
    assert sorted(p.name for p in shared.iterdir()) == []
    assert stat.S_IMODE(shared.stat().st_mode) == mode


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a directory away")
def test_dev_refuses_a_state_dir_owned_by_another_user(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its owner can replace the public JWKS in it, whatever its mode says.
    theirs = project / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 65534, 65534)
    os.environ["DALOY_DEV_STATE_DIR"] = str(theirs)
    assert main(["dev", "--port", str(free_port()), "no_such_module_for_dev:asgi"]) == 1
    assert "other users can write to it" in capsys.readouterr().err
    assert sorted(p.name for p in theirs.iterdir()) == []
