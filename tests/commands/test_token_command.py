"""``daloy-edge dev`` + ``daloy-edge token``: a working token in one step, dev only."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from daloy_edge.cli import main
from daloy_edge.commands import _devkey
from daloy_edge.testing import TestClient
from examples.secure_app import create_app

ROOT = Path(__file__).resolve().parents[2]


def dev_env(tmp_path: Path) -> dict[str, str]:
    environ = {"DALOY_DEV_STATE_DIR": str(tmp_path / "state")}
    _devkey.prepare_dev_identity(environ)
    return environ


def test_dev_key_is_private_to_the_user(tmp_path):
    environ = dev_env(tmp_path)
    state = Path(environ["DALOY_DEV_STATE_DIR"])
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / _devkey.KEY_FILE).stat().st_mode) == 0o600


def test_dev_key_written_over_a_readable_leftover_file_is_private(tmp_path):
    # os.open's mode applies to new files only: a key file left readable by a copy or a
    # restore (0644) received the new private key and stayed readable by everyone.
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    for name in (_devkey.KEY_FILE, _devkey.JWKS_FILE):
        (state / name).write_text("{}")
        (state / name).chmod(0o644)
    dev_env(tmp_path)
    for name in (_devkey.KEY_FILE, _devkey.JWKS_FILE):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600


def test_dev_key_is_not_readable_through_a_descriptor_opened_on_a_leftover_file(tmp_path):
    # In a state directory shared on purpose (0755), another user could open a leftover
    # 0644 key file and wait: the new private key was written into that same file, and
    # making it 0600 stops no descriptor already open on it.
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    (state / _devkey.KEY_FILE).write_text("{}")
    with (state / _devkey.KEY_FILE).open("rb") as held:
        dev_env(tmp_path)
        assert held.read() == b"{}"
    assert _devkey.load_dev_key(state)["jwk"]["d"]


def test_dev_key_leaves_the_mode_of_an_existing_state_dir_alone(tmp_path):
    # The user may share it with their group on purpose; it was set to 0700 behind their back.
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o750)
    dev_env(tmp_path)
    assert stat.S_IMODE(state.stat().st_mode) == 0o750


def test_dev_key_file_is_labelled_development_only(tmp_path):
    environ = dev_env(tmp_path)
    state = _devkey.load_dev_key(Path(environ["DALOY_DEV_STATE_DIR"]))
    assert state["warning"].startswith("DEVELOPMENT ONLY")


def test_public_jwks_carries_no_private_material(tmp_path):
    environ = dev_env(tmp_path)
    text = Path(environ["DALOY_JWKS_FILE"]).read_text()
    assert '"d"' not in text


def test_configured_jwks_is_never_replaced_by_a_dev_key(tmp_path):
    environ = {"DALOY_JWKS_URL": "https://idp.example/jwks", "DALOY_DEV_STATE_DIR": str(tmp_path)}
    assert _devkey.prepare_dev_identity(environ) == []
    assert not (tmp_path / _devkey.KEY_FILE).exists()


def test_removing_a_dev_key_spares_a_newer_one_in_the_same_directory(tmp_path):
    state = Path(dev_env(tmp_path)["DALOY_DEV_STATE_DIR"])
    first = _devkey.key_id(state)
    assert first is not None
    second = Path(dev_env(tmp_path)["DALOY_DEV_STATE_DIR"])
    _devkey.remove_dev_key(state, first)
    assert _devkey.key_id(second) not in (None, first)


def test_minted_token_is_accepted_by_the_reference_app(tmp_path, capsys):
    environ = dev_env(tmp_path)
    status = main(
        [
            "token",
            "--sub",
            "alice",
            "--scope",
            "reports:read",
            "--state-dir",
            environ["DALOY_DEV_STATE_DIR"],
        ]
    )
    assert status == 0
    token = capsys.readouterr().out.strip()
    client = TestClient(create_app(environ))
    headers = {"authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=headers).json() == {
        "sub": "alice",
        "scopes": ["reports:read"],
    }
    assert client.get("/api/reports", headers=headers).status == 200
    assert client.post("/api/reports", headers=headers, json={"a": 1}).status == 403


def test_token_without_a_running_dev_server_fails_clearly(tmp_path, capsys):
    assert main(["token", "--sub", "alice", "--state-dir", str(tmp_path)]) == 1
    assert "daloy-edge dev" in capsys.readouterr().err


def test_token_without_the_jwt_extra_names_the_extra_to_install(tmp_path, capsys, monkeypatch):
    for name in ("jwt", "cryptography"):
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["token", "--sub", "alice", "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "daloy-edge token: dev bearer tokens need the 'jwt' extra: pip install 'daloy-edge[jwt]'\n"
    )


def test_token_with_a_key_file_that_is_no_dev_key_fails_clearly(tmp_path, capsys):
    (tmp_path / _devkey.KEY_FILE).write_text("{}")
    assert main(["token", "--sub", "alice", "--state-dir", str(tmp_path)]) == 1
    assert "is not a dev key" in capsys.readouterr().err


def test_token_with_a_state_dir_that_is_a_file_fails_clearly(tmp_path, capsys):
    (tmp_path / "state").write_text("")
    assert main(["token", "--sub", "alice", "--state-dir", str(tmp_path / "state")]) == 1
    assert "cannot read the dev key" in capsys.readouterr().err


def test_token_refuses_an_overlong_lifetime(tmp_path, capsys):
    environ = dev_env(tmp_path)
    args = ["token", "--sub", "a", "--ttl", "999999", "--state-dir", environ["DALOY_DEV_STATE_DIR"]]
    assert main(args) == 1


def test_token_refuses_an_empty_subject_the_dev_server_would_refuse(tmp_path, capsys):
    environ = dev_env(tmp_path)
    args = ["token", "--sub", "", "--state-dir", environ["DALOY_DEV_STATE_DIR"]]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "subject must not be empty" in captured.err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_dev_server_and_token_command_end_to_end(tmp_path):
    port = _free_port()
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DALOY_")}
    env["DALOY_DEV_STATE_DIR"] = str(state)
    cli = [sys.executable, "-m", "daloy_edge.cli"]
    server = subprocess.Popen(
        [*cli, "dev", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        token = subprocess.run(
            [*cli, "token", "--sub", "alice", "--scope", "reports:read"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        me = httpx.get(f"{base}/api/me", headers={"authorization": f"Bearer {token}"})
        assert me.json() == {"sub": "alice", "scopes": ["reports:read"]}
        keys = httpx.get(f"{base}/.well-known/dev-jwks.json").json()["keys"]
        assert len(keys) == 1 and "d" not in keys[0]
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert not (state / _devkey.KEY_FILE).exists()
