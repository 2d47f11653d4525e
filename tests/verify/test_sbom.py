from __future__ import annotations

import json

from daloy_edge.verify import Status
from daloy_edge.verify.gates.sbom import build_sbom, validate_sbom
from tests.verify.conftest import gate
from tests.verify.locks import lock, package, pyproject

DEP = '{ name = "leaf" }'


def sbom_project(layout, **kwargs):
    files = {
        "pyproject.toml": pyproject("branch"),
        "uv.lock": lock(package("branch", deps=[DEP]), package("leaf"), deps=["branch"]),
    }
    return layout(files, **kwargs)


def test_builds_and_validates_an_sbom_and_writes_it(layout, tmp_path):
    out = tmp_path / "sbom.json"
    result = gate(sbom_project(layout, sbom_out=out), "sbom")
    assert result.status is Status.PASS
    document = json.loads(out.read_text())
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.6"
    assert [c["purl"] for c in document["components"]] == [
        "pkg:pypi/branch@1.0",
        "pkg:pypi/leaf@1.0",
    ]
    graph = {d["ref"]: d["dependsOn"] for d in document["dependencies"]}
    assert graph["pkg:pypi/demo@0.1.0"] == ["pkg:pypi/branch@1.0"]
    assert graph["pkg:pypi/branch@1.0"] == ["pkg:pypi/leaf@1.0"]
    refs = document["components"][0]["externalReferences"]
    assert refs[0]["hashes"][0]["alg"] == "SHA-256"


def test_schema_rejects_a_malformed_document(layout):
    document = build_sbom(sbom_project(layout))
    document["components"][0]["type"] = "gadget"
    del document["bomFormat"]
    problems = validate_sbom(document)
    assert any("bomFormat" in p for p in problems)
    assert any(p.startswith("components/0/type") for p in problems)


def test_dangling_dependency_refs_are_reported(layout):
    document = build_sbom(sbom_project(layout))
    document["dependencies"][0]["dependsOn"].append("pkg:pypi/ghost@9")
    assert validate_sbom(document) == ["dependency graph names unknown ref pkg:pypi/ghost@9"]


def test_same_lock_gives_the_same_serial_number(layout):
    project = sbom_project(layout)
    assert build_sbom(project)["serialNumber"] == build_sbom(project)["serialNumber"]
