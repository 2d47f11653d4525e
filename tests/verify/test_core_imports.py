from __future__ import annotations

from daloy_edge.verify import Status
from tests.verify.conftest import gate

NAME = "core-imports"
PYPROJECT = """
[project]
name = "myapp"
version = "1"

[tool.uv.workspace]
members = ["adapters/lam"]
"""
ADAPTER = '[project]\nname = "myapp-lam"\nversion = "1"\n'


def project_with(layout, core_code: str):
    return layout(
        {
            "pyproject.toml": PYPROJECT,
            "myapp/__init__.py": "",
            "myapp/core.py": core_code,
            "adapters/lam/pyproject.toml": ADAPTER,
            "adapters/lam/myapp_lam/__init__.py": "import boto3\n",
            "examples/app.py": "import flask\n",
        }
    )


def test_flags_lazy_runtime_sdk_import_in_core(layout):
    result = gate(project_with(layout, "def f():\n    import boto3.session\n"), NAME)
    assert [(f.location(), f.message) for f in result.findings] == [
        ("myapp/core.py:2:5", "the core imports `boto3.session` (boto3 belongs in an adapter)")
    ]


def test_flags_dynamic_import_of_js(layout):
    code = "import importlib\nmod = importlib.import_module('js')\n"
    assert gate(project_with(layout, code), NAME).status is Status.FAIL


def test_flags_core_importing_an_adapter(layout):
    code = "from myapp_lam import handler\n"
    messages = [f.message for f in gate(project_with(layout, code), NAME).findings]
    assert messages == ["the core imports `myapp_lam` (myapp_lam belongs in an adapter)"]


def test_passes_clean_core_while_adapters_and_examples_use_sdks(layout):
    result = gate(project_with(layout, "import json\nimport hmac\n"), NAME)
    assert result.status is Status.PASS
    assert result.detail == "2 core files in myapp"
