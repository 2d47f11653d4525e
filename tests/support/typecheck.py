"""``type_errors``: what ``mypy --strict`` says of a user's code written against this tree.

The toolkit and its adapters are read from this checkout (not from wherever they are
installed) and their own errors are left out, as for an installed package: ``mypy`` on
the project checks those. One cache serves the session, so each check after the first
reads the toolkit's analysis from it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

from tests.support.servers import ROOT

TypeErrors = Callable[[str], list[str]]

_SEARCH_PATH = os.pathsep.join(
    str(path)
    for path in (
        ROOT,
        *(
            ROOT / "adapters" / name
            for name in ("asgi", "aws_lambda", "cloudflare", "gcp_functions")
        ),
    )
)
_CONFIG = """\
[mypy]
strict = True

[mypy-daloy_edge.*,daloy_edge_asgi.*,daloy_edge_aws_lambda.*,daloy_edge_cloudflare.*,daloy_edge_gcp_functions.*]
ignore_errors = True
"""


@pytest.fixture(scope="session")
def type_errors(tmp_path_factory: pytest.TempPathFactory) -> TypeErrors:
    """``check(code)``: the error lines ``mypy --strict`` reports for ``code``."""
    home = tmp_path_factory.mktemp("typecheck")
    config = home / "mypy.ini"
    config.write_text(_CONFIG)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    env["MYPYPATH"] = _SEARCH_PATH
    count = 0

    def check(code: str) -> list[str]:
        nonlocal count
        count += 1
        module = home / f"user_{count}.py"
        module.write_text(textwrap.dedent(code))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--config-file",
                str(config),
                "--cache-dir",
                str(home / "cache"),
                str(module),
            ],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode not in (0, 1):
            raise RuntimeError(result.stdout + result.stderr)
        return [line for line in result.stdout.splitlines() if ": error:" in line]

    return check
