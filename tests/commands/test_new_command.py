"""``daloy-edge new``: what it tells the user, and a destination it cannot write."""

from __future__ import annotations

from pathlib import Path

import pytest

from daloy_edge.cli import main


@pytest.mark.parametrize("dest", ["a-file", "a-file/sub"])
def test_new_into_a_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dest: str
) -> None:
    (tmp_path / "a-file").write_text("")
    assert main(["new", "hello", "--target", "asgi", "--dir", str(tmp_path / dest)]) == 2
    assert (
        capsys.readouterr().err
        == f"daloy-edge new: cannot write {tmp_path / dest}: Not a directory\n"
    )


def test_new_says_to_lock_before_the_scaffolded_ci_runs_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The generated workflow runs ``daloy-edge verify .``, whose lockfile gate fails on a
    # project without uv.lock: the first push would fail unless the user is told.
    assert main(["new", "hello", "--target", "asgi", "--dir", str(tmp_path / "hello")]) == 0
    out = capsys.readouterr().out
    assert "uv lock" in out and "commit uv.lock" in out
    assert "daloy-edge verify ." in (tmp_path / "hello" / ".github/workflows/ci.yml").read_text()


def test_new_next_steps_test_from_the_lock_the_ci_installs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Installing with pip ran the tests against whatever versions PyPI had that day, not
    # the ones the CI installs from uv.lock.
    dest = tmp_path / "hello"
    assert main(["new", "hello", "--target", "asgi", "--dir", str(dest)]) == 0
    assert f"next: cd {dest} && uv lock && uv run pytest\n" in capsys.readouterr().out
