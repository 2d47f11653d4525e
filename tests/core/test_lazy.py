"""``lazy_exports``: a package's names load their modules on first access, once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from daloy_edge._lazy import lazy_exports


def test_a_name_loads_its_module_once_and_is_kept() -> None:
    namespace: dict[str, object] = {"__all__": ["JSONDecoder", "JSONEncoder"]}
    getattr_, dir_ = lazy_exports(
        "json", {"JSONDecoder": "decoder", "JSONEncoder": "json.encoder"}, namespace
    )
    decoder = getattr_("JSONDecoder")
    assert decoder.__module__ == "json.decoder"  # type: ignore[attr-defined]
    assert namespace["JSONDecoder"] is decoder
    assert getattr_("JSONEncoder") is namespace["JSONEncoder"]  # an absolute home
    assert {"JSONDecoder", "JSONEncoder", "__all__"} <= set(dir_())


def test_unknown_names_are_attribute_errors() -> None:
    getattr_, _ = lazy_exports("json", {}, {})
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        getattr_("nope")


def test_importing_a_lazy_package_loads_none_of_its_modules() -> None:
    code = (
        "import sys, daloy_edge.jose as j; "
        "print(sorted(m for m in sys.modules if m.startswith('daloy_edge.jose.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
