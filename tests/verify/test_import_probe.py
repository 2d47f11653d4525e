from __future__ import annotations

import socket

from daloy_edge.verify import Status
from tests.verify.conftest import gate

PYPROJECT = '[project]\nname = "probed"\nversion = "1"\n'


def test_blocks_and_reports_a_connection_made_at_import(layout):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
    project = layout({"pyproject.toml": PYPROJECT, "probed/__init__.py": code})
    try:
        result = gate(project, "no-network-at-import")
        try:
            conn, _ = listener.accept()
            conn.close()
            connected = True
        except TimeoutError:
            connected = False
    finally:
        listener.close()
    assert not connected, "the probe let the import reach the listener"
    assert result.status is Status.FAIL
    assert result.findings[0].location() == "probed/__init__.py:2"
    assert "socket" in result.findings[0].message


def test_reports_a_name_lookup_at_import(layout):
    code = (
        "import socket\ntry:\n    socket.getaddrinfo('example.invalid', 443)\n"
        "except OSError:\n    pass\n"
    )
    project = layout({"pyproject.toml": PYPROJECT, "probed/__init__.py": code})
    result = gate(project, "no-network-at-import")
    assert [f.line for f in result.findings] == [3]
    assert "socket.getaddrinfo" in result.findings[0].message


def test_passes_a_package_that_only_defines_things(layout):
    code = "import socket\ndef connect(host):\n    return socket.create_connection((host, 80))\n"
    project = layout({"pyproject.toml": PYPROJECT, "probed/__init__.py": code})
    result = gate(project, "no-network-at-import")
    assert result.status is Status.PASS
    assert result.detail == "imported probed"


def test_reports_a_package_that_fails_to_import(layout):
    project = layout({"pyproject.toml": PYPROJECT, "probed/__init__.py": "import js\n"})
    result = gate(project, "no-network-at-import")
    assert [f.message for f in result.findings] == [
        "importing probed failed: ModuleNotFoundError: No module named 'js'"
    ]


def test_lazy_imports_flags_a_heavy_module_loaded_at_import(layout):
    files = {
        "pyproject.toml": PYPROJECT + '[tool.daloy-edge.verify]\nheavy-modules = ["heavylib"]\n',
        "probed/__init__.py": "from probed import feature\n",
        "probed/feature.py": "import heavylib\n",
        "heavylib.py": "",
    }
    result = gate(layout(files), "lazy-imports")
    assert [f.message for f in result.findings] == [
        "importing probed loads heavylib: import them inside the feature that needs them"
    ]


def test_lazy_imports_passes_when_heavy_module_is_imported_inside_a_function(layout):
    files = {
        "pyproject.toml": PYPROJECT + '[tool.daloy-edge.verify]\nheavy-modules = ["heavylib"]\n',
        "probed/__init__.py": "def feature():\n    import heavylib\n    return heavylib\n",
        "heavylib.py": "",
    }
    assert gate(layout(files), "lazy-imports").status is Status.PASS


def test_names_the_dependency_that_connects_when_it_is_outside_the_project(layout, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-site"
    outside.mkdir()
    (outside / "chatty.py").write_text("import socket\nsocket.gethostbyname('example.invalid')\n")
    files = {
        "pyproject.toml": PYPROJECT + '[tool.daloy-edge.verify]\nimport-modules = ["probed"]\n',
        "probed/__init__.py": f"import sys\nsys.path.insert(0, {str(outside)!r})\nimport chatty\n",
    }
    result = gate(layout(files), "no-network-at-import")
    assert result.findings[0].path == ""
    assert result.findings[0].message.endswith(f"at {outside}/chatty.py:2")
