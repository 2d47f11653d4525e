"""``[tool.daloy-edge.verify]`` in pyproject.toml: the few knobs a project may turn.

Example::

    [tool.daloy-edge.verify]
    exclude = ["vendor/*"]                  # never scanned
    core-packages = ["myapp/core"]          # held to the core-imports rule
    import-modules = ["myapp"]              # imported by no-network-at-import and lazy-imports
    heavy-modules = ["cryptography"]        # must not load at import time
    allowed-licenses = ["MIT", "Apache-2.0"]
    egress-paths = ["myapp/egress/*"]       # the outbound guard: may follow redirects

    [[tool.daloy-edge.verify.waive]]        # for files that cannot carry a comment
    gate = "leaked-credentials"
    path = "tests/fixtures/*.pem"
    reason = "throwaway key generated for the JWT tests"

    [[tool.daloy-edge.verify.waive]]
    gate = "known-dep-names"
    path = "uv.lock"
    match = "simpy "                        # only findings whose message contains this
    reason = "the discrete-event simulation library, not a misspelt sympy"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from daloy_edge._errors import ConfigError

__all__ = ["PathWaiver", "VerifyConfig"]

_LIST_KEYS = {
    "exclude",
    "core-packages",
    "import-modules",
    "heavy-modules",
    "allowed-licenses",
    "egress-paths",
}
MIN_REASON_CHARS = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class PathWaiver:
    """A gate waived for files matching ``path`` (a glob), with the reason written down.

    ``match``, when given, narrows it to findings whose message contains that text (one
    dependency in ``uv.lock``, say).
    """

    gate: str
    path: str
    reason: str
    match: str = ""

    def __post_init__(self) -> None:
        if len(self.reason.strip()) < MIN_REASON_CHARS:
            raise ConfigError(f"waiver for {self.gate} on {self.path} needs a written reason")


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyConfig:
    """Settings read from pyproject; ``None`` means the gate's own default."""

    exclude: tuple[str, ...] = ()
    core_packages: tuple[str, ...] | None = None
    import_modules: tuple[str, ...] | None = None
    heavy_modules: tuple[str, ...] | None = None
    allowed_licenses: tuple[str, ...] | None = None
    egress_paths: tuple[str, ...] | None = None
    waivers: tuple[PathWaiver, ...] = field(default=())

    @classmethod
    def from_pyproject(cls, data: Mapping[str, object]) -> VerifyConfig:
        """Read ``tool.daloy-edge.verify`` from a parsed pyproject (ConfigError if malformed)."""
        tool = data.get("tool")
        section = tool.get("daloy-edge", {}) if isinstance(tool, dict) else {}
        raw = section.get("verify", {}) if isinstance(section, dict) else {}
        if not isinstance(raw, dict):
            raise ConfigError("[tool.daloy-edge.verify] must be a table")
        unknown = set(raw) - _LIST_KEYS - {"waive"}
        if unknown:
            raise ConfigError(
                f"unknown [tool.daloy-edge.verify] keys: {', '.join(sorted(unknown))}"
            )
        lists = {key: _string_list(raw, key) for key in _LIST_KEYS}
        return cls(
            exclude=lists["exclude"] or (),
            core_packages=lists["core-packages"],
            import_modules=lists["import-modules"],
            heavy_modules=lists["heavy-modules"],
            allowed_licenses=lists["allowed-licenses"],
            egress_paths=lists["egress-paths"],
            waivers=_waivers(raw.get("waive", [])),
        )


def _string_list(raw: Mapping[str, object], key: str) -> tuple[str, ...] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[tool.daloy-edge.verify] {key} must be a list of strings")
    return tuple(value)


def _waivers(value: object) -> tuple[PathWaiver, ...]:
    if not isinstance(value, list):
        raise ConfigError("[[tool.daloy-edge.verify.waive]] must be an array of tables")
    out = []
    for item in value:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("gate", "path", "reason")
        ):
            raise ConfigError("each waive entry needs string gate, path and reason")
        match = item.get("match", "")
        if not isinstance(match, str):
            raise ConfigError("waive match must be a string")
        out.append(
            PathWaiver(gate=item["gate"], path=item["path"], reason=item["reason"], match=match)
        )
    return tuple(out)
