"""``uv.lock`` as data: packages, workspace members and the runtime dependency closure."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Lock", "LockedPackage", "marker_applies", "normalize"]

_NORMALIZE = re.compile(r"[-_.]+")


def normalize(name: str) -> str:
    """PEP 503 normalised project name."""
    return _NORMALIZE.sub("-", name).lower()


def marker_applies(marker: str | None) -> bool:
    """Whether an environment marker holds for this interpreter (True without ``packaging``)."""
    if not marker:
        return True
    try:
        from packaging.markers import InvalidMarker, Marker
    except ImportError:
        return True
    try:
        return Marker(marker).evaluate({"extra": ""})
    except InvalidMarker:
        return True


@dataclass(frozen=True, slots=True)
class LockedPackage:
    """One ``[[package]]`` entry of the lock."""

    raw: Mapping[str, Any]

    @property
    def name(self) -> str:
        """Normalised name."""
        return normalize(str(self.raw["name"]))

    @property
    def version(self) -> str:
        """Locked version ("" for virtual members)."""
        return str(self.raw.get("version", ""))

    @property
    def source(self) -> Mapping[str, Any]:
        """Where it comes from: ``registry``, ``editable``, ``git``, ``url``, ``path``..."""
        source = self.raw.get("source", {})
        return source if isinstance(source, Mapping) else {}

    @property
    def source_kind(self) -> str:
        """The first key of ``source``."""
        return next(iter(self.source), "")

    @property
    def sdist(self) -> Mapping[str, Any] | None:
        """The sdist artifact, if locked."""
        sdist = self.raw.get("sdist")
        return sdist if isinstance(sdist, Mapping) else None

    @property
    def wheels(self) -> list[Mapping[str, Any]]:
        """The wheel artifacts."""
        return list(self.raw.get("wheels", []))

    def artifacts(self) -> Iterator[Mapping[str, Any]]:
        """Every downloadable artifact (sdist first)."""
        if self.sdist is not None:
            yield self.sdist
        yield from self.wheels

    def edges(self, extras: set[str] | None = None) -> list[Mapping[str, Any]]:
        """Dependency edges: the base ones plus those of ``extras`` (None means every extra)."""
        out = list(self.raw.get("dependencies", []))
        optional = self.raw.get("optional-dependencies", {})
        for extra, deps in optional.items():
            if extras is None or extra in extras:
                out.extend(deps)
        return out


class Lock:
    """A parsed ``uv.lock``."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.packages = [LockedPackage(p) for p in data.get("package", [])]
        manifest = data.get("manifest", {})
        members = manifest.get("members") if isinstance(manifest, Mapping) else None
        if members:
            self.members = {normalize(m) for m in members}
        else:
            self.members = {
                p.name for p in self.packages if p.source_kind in ("editable", "virtual")
            }
        self._by_name: dict[str, list[LockedPackage]] = {}
        for package in self.packages:
            self._by_name.setdefault(package.name, []).append(package)

    def find(self, edge: Mapping[str, Any]) -> LockedPackage | None:
        """The package an edge points at (by name, and version when several are locked)."""
        candidates = self._by_name.get(normalize(str(edge["name"])), [])
        version = edge.get("version")
        for package in candidates:
            if version is None or package.version == version:
                return package
        return candidates[0] if candidates else None

    def third_party(self) -> list[LockedPackage]:
        """Every locked package that is not a workspace member."""
        return [p for p in self.packages if p.name not in self.members]

    def runtime(self, *, here_only: bool = False, dev: bool = False) -> list[LockedPackage]:
        """Third-party packages the members need at run time, every extra included and
        development groups left out (unless ``dev``); ``here_only`` drops edges whose
        marker is false on this interpreter."""
        seen: dict[tuple[str, str], LockedPackage] = {}
        queue: list[tuple[LockedPackage, set[str] | None]] = [
            (p, None) for p in self.packages if p.name in self.members
        ]
        done: set[tuple[str, str, frozenset[str] | None]] = set()
        while queue:
            package, extras = queue.pop()
            key = (package.name, package.version, frozenset(extras) if extras is not None else None)
            if key in done:
                continue
            done.add(key)
            edges = package.edges(extras)
            if dev and package.name in self.members:
                for group in package.raw.get("dev-dependencies", {}).values():
                    edges.extend(group)
            for edge in edges:
                if here_only and not marker_applies(edge.get("marker")):
                    continue
                target = self.find(edge)
                if target is None:
                    continue
                if target.name not in self.members:
                    seen[(target.name, target.version)] = target
                wanted = set(edge.get("extra", []))
                queue.append((target, None if target.name in self.members else wanted))
        return sorted(seen.values(), key=lambda p: (p.name, p.version))
