"""``daloy-edge new``: a destination it cannot write is a one-line error."""

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
