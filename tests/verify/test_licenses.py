from __future__ import annotations

import pytest

from daloy_edge.verify import Status
from daloy_edge.verify._licenses import allowed
from tests.verify.conftest import gate
from tests.verify.locks import lock, package

SITE = ".venv/lib/python3.11/site-packages"


def installed(name: str, version: str, *headers: str) -> dict[str, str]:
    body = "\n".join(["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}", *headers])
    return {f"{SITE}/{name}-{version}.dist-info/METADATA": body + "\n"}


def project(layout, *dists: dict[str, str], names: list[str], extra: dict[str, str] | None = None):
    files = {"uv.lock": lock(*(package(n) for n in names), deps=names), ".venv/pyvenv.cfg": ""}
    for dist in dists:
        files.update(dist)
    files.update(extra or {})
    return layout(files)


def test_copyleft_dependency_is_flagged(layout):
    p = project(
        layout, installed("gpllib", "1.0", "License-Expression: GPL-3.0-only"), names=["gpllib"]
    )
    result = gate(p, "dep-licenses")
    assert [f.message for f in result.findings] == [
        "gpllib 1.0: licence GPL-3.0-only is not allowed"
    ]


def test_classifier_only_licence_is_read(layout):
    dist = installed("oldlib", "1.0", "Classifier: License :: OSI Approved :: MIT License")
    assert gate(project(layout, dist, names=["oldlib"]), "dep-licenses").status is Status.PASS


def test_dual_licence_passes_when_one_side_is_allowed(layout):
    dist = installed("duallib", "1.0", "License-Expression: GPL-2.0-only OR Apache-2.0")
    assert gate(project(layout, dist, names=["duallib"]), "dep-licenses").status is Status.PASS


def test_missing_licence_and_missing_install_are_findings(layout):
    p = project(layout, installed("nolicence", "1.0"), names=["nolicence", "absent"])
    messages = [f.message for f in gate(p, "dep-licenses").findings]
    assert messages == [
        "absent 1.0: not installed, so its licence cannot be read (uv sync --all-extras)",
        "nolicence 1.0: declares no licence",
    ]


def test_allow_list_comes_from_pyproject(layout):
    config = {"pyproject.toml": '[tool.daloy-edge.verify]\nallowed-licenses = ["Apache-2.0"]\n'}
    p = project(layout, installed("mitlib", "1.0", "License: MIT"), names=["mitlib"], extra=config)
    assert [f.message for f in gate(p, "dep-licenses").findings] == [
        "mitlib 1.0: licence MIT is not allowed"
    ]


@pytest.mark.parametrize(
    ("expression", "ok"),
    [
        ("MIT", True),
        ("Apache-2.0 WITH LLVM-exception", True),
        ("(MIT OR GPL-3.0-only) AND BSD-3-Clause", True),
        ("MIT AND GPL-3.0-only", False),
        ("GPL-2.0+", False),
        ("MIT OR", False),
        ("(MIT", False),
    ],
)
def test_spdx_expressions_are_evaluated(expression, ok):
    assert allowed(expression, ["MIT", "Apache-2.0", "BSD-3-Clause"]) is ok


def test_prose_licence_field_falls_back_to_classifiers(layout):
    dist = installed(
        "duallic",
        "1.0",
        "License: Dual License",
        "Classifier: License :: OSI Approved :: Apache Software License",
        "Classifier: License :: OSI Approved :: BSD License",
    )
    assert gate(project(layout, dist, names=["duallic"]), "dep-licenses").status is Status.PASS
