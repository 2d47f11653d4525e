"""``sbom``: a CycloneDX 1.6 SBOM of the runtime dependencies is generated and valid.

The SBOM is built from ``uv.lock`` (the same runtime closure as ``dep-licenses``): one
component per package with its purl, licence (from installed metadata when available) and
every locked artifact as a ``distribution`` reference with its SHA-256, plus the
dependency graph. It is validated against the official CycloneDX 1.6 JSON schema shipped
inside the ``cyclonedx-python-lib`` package (``cyclonedx/schema/_res``), offline, and for
referential integrity (unique ``bom-ref``s, every ``dependsOn`` resolvable).
``daloy-edge verify --sbom-out FILE`` writes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping
from importlib import resources
from typing import Any

from daloy_edge.verify._licenses import installed_distributions, license_expression
from daloy_edge.verify._lock import Lock, LockedPackage, normalize
from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project

__all__ = ["GATE", "build_sbom", "validate_sbom"]

SPEC_VERSION = "1.6"
_SCHEMA_PACKAGE = "cyclonedx.schema._res"
_SCHEMA_BASE = "http://cyclonedx.org/schema/"


def _purl(name: str, version: str) -> str:
    return f"pkg:pypi/{normalize(name)}@{version}" if version else f"pkg:pypi/{normalize(name)}"


def _component(package: LockedPackage, licences: Mapping[str, str]) -> dict[str, Any]:
    purl = _purl(package.name, package.version)
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": purl,
        "name": package.name,
        "version": package.version,
        "purl": purl,
    }
    if package.name in licences:
        component["licenses"] = [{"expression": licences[package.name]}]
    references = []
    for artifact in package.artifacts():
        algorithm, _, digest = str(artifact.get("hash", "")).partition(":")
        url = artifact.get("url")
        if algorithm == "sha256" and url:
            references.append(
                {"type": "distribution", "url": str(url),
                 "hashes": [{"alg": "SHA-256", "content": digest}]}
            )  # fmt: skip
    if references:
        component["externalReferences"] = references
    return component


def build_sbom(project: Project) -> dict[str, Any]:
    """The CycloneDX document for the project's runtime dependencies."""
    if project.lock is None:
        raise ValueError("no uv.lock")
    lock = Lock(project.lock)
    installed = installed_distributions(project.site_packages)
    licences = {
        name: expr for name, dist in installed.items() if (expr := license_expression(dist))
    }
    third = lock.runtime()
    members = [p for p in lock.packages if p.name in lock.members]
    root_name = normalize(project.members[0].name) if project.members[0].name else ""
    root = next((p for p in members if p.name == root_name), members[0] if members else None)
    components = [_component(p, licences) for p in members if p is not root]
    components += [_component(p, licences) for p in third]
    refs = {c["bom-ref"] for c in components}
    metadata: dict[str, Any] = {
        "timestamp": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "tools": {"components": [{"type": "application", "name": "daloy-edge verify"}]},
    }
    graph = []
    if root is not None:
        metadata["component"] = {**_component(root, licences), "type": "application"}
        metadata["component"].pop("externalReferences", None)
        refs.add(metadata["component"]["bom-ref"])
    for package in members + third:
        extras: set[str] | None = None if package.name in lock.members else set()
        depends = sorted(
            {_purl(t.name, t.version) for e in package.edges(extras) if (t := lock.find(e))} & refs
        )
        graph.append({"ref": _purl(package.name, package.version), "dependsOn": depends})
    digest = hashlib.sha256(json.dumps(project.lock, sort_keys=True).encode()).hexdigest()
    return {
        "$schema": f"{_SCHEMA_BASE}bom-{SPEC_VERSION}.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": uuid.uuid5(uuid.NAMESPACE_URL, f"urn:sha256:{digest}").urn,
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": _dedupe(graph),
    }


def _dedupe(graph: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for entry in graph:
        seen.setdefault(entry["ref"], entry)
    return list(seen.values())


def _load_schema(name: str) -> dict[str, Any]:
    text = resources.files(_SCHEMA_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def validate_sbom(document: Mapping[str, Any]) -> list[str]:
    """Problems with the document: schema violations, then dangling or duplicate refs.

    Raises ImportError when jsonschema or the CycloneDX schema files are not installed.
    """
    import jsonschema  # type: ignore[import-untyped]  # untyped; optional dependency
    from referencing import Registry, Resource

    resources_ = []
    for plain, shipped in (
        ("spdx.schema.json", "spdx.SNAPSHOT.schema.json"),
        ("jsf-0.82.schema.json", "jsf-0.82.SNAPSHOT.schema.json"),
    ):
        resource = Resource.from_contents(_load_schema(shipped))
        resources_ += [(_SCHEMA_BASE + plain, resource), (_SCHEMA_BASE + shipped, resource)]
    schema = _load_schema(f"bom-{SPEC_VERSION}.SNAPSHOT.schema.json")
    validator = jsonschema.Draft7Validator(
        schema,
        registry=Registry().with_resources(resources_),
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    )
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message[:200]}"
        for error in validator.iter_errors(document)
    ]
    return problems + _integrity(document)


def _integrity(document: Mapping[str, Any]) -> list[str]:
    refs = [c.get("bom-ref") for c in document.get("components", [])]
    meta = document.get("metadata", {}).get("component")
    if meta:
        refs.append(meta.get("bom-ref"))
    problems = [f"duplicate bom-ref {r}" for r in sorted({r for r in refs if refs.count(r) > 1})]
    known = set(refs)
    for entry in document.get("dependencies", []):
        for ref in [entry.get("ref"), *entry.get("dependsOn", [])]:
            if ref not in known:
                problems.append(f"dependency graph names unknown ref {ref}")
    return problems


def check(project: Project) -> Outcome:
    """Build the SBOM, validate it, and write it when asked."""
    if project.lock is None:
        return Outcome(checked="no uv.lock (the lockfile gate reports it)")
    document = build_sbom(project)
    try:
        problems = validate_sbom(document)
    except (ImportError, FileNotFoundError, ModuleNotFoundError) as exc:
        return Outcome(
            skipped=f"cannot validate without the CycloneDX schema ({exc}): "
            "install daloy-edge[verify]"
        )
    if project.sbom_out is not None:
        project.sbom_out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    findings = [Finding("", 0, f"SBOM invalid: {p}") for p in problems]
    where = f", written to {project.sbom_out}" if project.sbom_out else ""
    return Outcome(
        findings, f"CycloneDX {SPEC_VERSION}, {len(document['components'])} components{where}"
    )


GATE = Gate("sbom", "a CycloneDX SBOM of the runtime dependencies builds and validates", check)
