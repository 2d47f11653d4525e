"""Every gate, in the order they run and print."""

from __future__ import annotations

from daloy_edge.verify._model import Gate
from daloy_edge.verify.gates import (
    actions,
    bandit_gate,
    core_imports,
    credentials,
    deserialization,
    http_clients,
    iac,
    import_probe,
    jwt_misuse,
    licenses,
    lockfile,
    runtime_eol,
    sbom,
    secret_comparisons,
    typosquats,
    unicode,
    weak_random,
)

__all__ = ["GATES", "gate_names"]

GATES: tuple[Gate, ...] = (
    secret_comparisons.GATE,
    weak_random.GATE,
    jwt_misuse.GATE,
    http_clients.GATE,
    deserialization.GATE,
    core_imports.GATE,
    import_probe.NETWORK_GATE,
    import_probe.LAZY_GATE,
    lockfile.LOCKFILE_GATE,
    lockfile.BINARY_GATE,
    licenses.GATE,
    typosquats.GATE,
    sbom.GATE,
    unicode.GATE,
    credentials.GATE,
    actions.GATE,
    runtime_eol.GATE,
    iac.GATE,
    bandit_gate.GATE,
)


def gate_names() -> list[str]:
    """The names ``--only`` accepts."""
    return [gate.name for gate in GATES]
