"""``known-dep-names``: no locked dependency is a near-miss of a popular project's name.

Typosquats live one or two keystrokes from a popular name (``reqeusts``, ``python-jwt``
for ``pyjwt`` is further and fine). Every locked package that is not itself on the shipped
list of popular PyPI names (``data/popular_pypi.txt``) is compared with each of them by
Damerau-Levenshtein distance: 1 edit for names of 5-7 characters, up to 2 for longer
ones; names of four characters or fewer are too dense to judge.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from daloy_edge.verify._lock import Lock, normalize
from daloy_edge.verify._model import Finding, Gate, Outcome
from daloy_edge.verify._project import Project

__all__ = ["GATE", "near_misses", "popular_names"]


@lru_cache(maxsize=1)
def popular_names() -> frozenset[str]:
    """The shipped list of popular project names."""
    text = resources.files("daloy_edge.verify").joinpath("data/popular_pypi.txt").read_text()
    return frozenset(
        normalize(line.strip())
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance, or ``limit + 1`` once it is certainly larger."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _limit(length: int) -> int:
    if length <= 4:
        return 0
    return 1 if length <= 7 else 2


def near_misses(name: str, popular: frozenset[str]) -> list[str]:
    """Popular names ``name`` is a near miss of (empty when it is popular itself)."""
    name = normalize(name)
    if name in popular:
        return []
    letters = set(name)
    out = []
    for known in popular:
        limit = _limit(min(len(known), len(name)))
        if not limit or abs(len(known) - len(name)) > limit:
            continue
        if len(letters.symmetric_difference(known)) > 2 * limit:
            continue
        if distance(name, known, limit) <= limit:
            out.append(known)
    return sorted(out)


def check(project: Project) -> Outcome:
    """Compare every locked name with the popular list."""
    if project.lock is None:
        return Outcome(checked="no uv.lock (the lockfile gate reports it)")
    lock = Lock(project.lock)
    popular = popular_names()
    findings = []
    for package in lock.third_party():
        close = near_misses(package.name, popular)
        if close:
            findings.append(
                Finding(
                    "uv.lock",
                    0,
                    f"{package.name} is one or two edits from "
                    f"{', '.join(close[:3])}: a typosquat? check the name",
                )
            )
    return Outcome(findings, f"{len(lock.third_party())} locked names against {len(popular)}")


GATE = Gate("known-dep-names", "no dependency is a near-miss of a popular name", check)
