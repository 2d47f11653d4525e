from __future__ import annotations

import os
from pathlib import Path

import pytest

from daloy_edge import App, ConfigError, static_files
from daloy_edge.testing import TestClient


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    root = tmp_path / "public"
    root.mkdir()
    (root / "a.txt").write_text("hello")
    (root / "sub").mkdir()
    (root / "sub" / "b.css").write_text("b{}")
    (root / ".env").write_text("SECRET=1")
    (tmp_path / "outside.txt").write_text("outside")
    os.symlink(tmp_path / "outside.txt", root / "link.txt")
    app = App()
    app.add_route("/s/{path:path}", static_files(root))
    return TestClient(app)


def test_serves_file_with_type(client: TestClient) -> None:
    response = client.get("/s/a.txt")
    assert response.text == "hello"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_serves_nested_file(client: TestClient) -> None:
    assert client.get("/s/sub/b.css").text == "b{}"


def test_symlink_out_of_root_is_404(client: TestClient) -> None:
    assert client.get("/s/link.txt").status == 404


def test_dotfile_is_404(client: TestClient) -> None:
    assert client.get("/s/.env").status == 404


def test_directory_is_404(client: TestClient) -> None:
    assert client.get("/s/sub").status == 404


def test_missing_file_is_404(client: TestClient) -> None:
    assert client.get("/s/nope.txt").status == 404


def test_missing_root_refuses_to_build(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        static_files(tmp_path / "missing")
