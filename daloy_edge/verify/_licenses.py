"""Licences of installed distributions as SPDX expressions, and allow-list evaluation."""

from __future__ import annotations

import importlib.metadata as md
import re
from collections.abc import Iterable

from daloy_edge.verify._lock import normalize

__all__ = [
    "DEFAULT_ALLOWED",
    "allowed",
    "installed_distributions",
    "license_expression",
]

DEFAULT_ALLOWED = (
    "MIT",
    "MIT-0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "LicenseRef-BSD",
    "0BSD",
    "Apache-2.0",
    "ISC",
    "PSF-2.0",
    "Python-2.0",
    "MPL-2.0",
    "Unlicense",
    "Zlib",
    "CC0-1.0",
    "HPND",
    "BSL-1.0",
)

# Trove classifiers and free-text License fields seen on PyPI, mapped to SPDX.
_ALIASES = {
    "mit": "MIT",
    "mit license": "MIT",
    "mit-0": "MIT-0",
    "bsd": "LicenseRef-BSD",
    "bsd license": "LicenseRef-BSD",
    "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "3-clause bsd": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "apache": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0",
    "isc": "ISC",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "psf": "PSF-2.0",
    "psf license": "PSF-2.0",
    "psfl": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "mpl 2.0": "MPL-2.0",
    "the unlicense (unlicense)": "Unlicense",
    "zlib/libpng license": "Zlib",
    "cc0 1.0 universal (cc0 1.0) public domain dedication": "CC0-1.0",
    "historical permission notice and disclaimer (hpnd)": "HPND",
    "boost software license 1.0 (bsl-1.0)": "BSL-1.0",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0-only",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0-or-later",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu affero general public license v3": "AGPL-3.0-only",
    "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
}
_SPDX_ID = re.compile(r"^[A-Za-z0-9.\-+]+$")
_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_OPERATORS = frozenset({"(", ")", "AND", "OR", "WITH"})
_BARE_IDS = frozenset({"MIT", "ISC", "ZLIB", "UNLICENSE", "HPND", "NCSA", "WTFPL", "X11"})


def installed_distributions(paths: list[str] | None) -> dict[str, md.Distribution]:
    """Installed distributions by normalised name (from ``paths``, or this interpreter)."""
    found: dict[str, md.Distribution] = {}
    dists = md.distributions(path=paths) if paths is not None else md.distributions()
    for dist in dists:
        name = dist.metadata["Name"]
        if name:
            found.setdefault(normalize(name), dist)
    return found


def license_expression(dist: md.Distribution) -> str | None:
    """The distribution's licence as an SPDX expression, or None when it declares none."""
    meta = dist.metadata
    expression = _field(meta, "License-Expression")
    if expression:
        return expression
    text = _field(meta, "License")
    if text and "\n" not in text and len(text) <= 100:
        mapped = _ALIASES.get(text.lower().rstrip("."))
        if mapped:
            return mapped
        if _looks_spdx(text):
            return text
    ids = []
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License ::"):
            leaf = classifier.rsplit("::", 1)[-1].strip().lower()
            if leaf in _ALIASES:
                ids.append(_ALIASES[leaf])
    if ids:
        return " OR ".join(dict.fromkeys(ids))
    return None


def _field(meta: md.PackageMetadata, name: str) -> str:
    values = meta.get_all(name) or []
    return str(values[0]).strip() if values else ""


def _looks_spdx(text: str) -> bool:
    """True for a well-formed expression of SPDX-shaped ids ("MIT OR Apache-2.0"), not prose
    ("Dual License", "BSD-like")."""
    tokens = _TOKEN.findall(text)
    if not tokens or not all(t in _OPERATORS or _SPDX_ID.match(t) for t in tokens):
        return False
    ids = [t for t in tokens if t not in _OPERATORS]
    if not any(ch.isdigit() or ch == "-" for t in ids for ch in t):
        return len(tokens) == 1 and tokens[0].upper() in _BARE_IDS
    try:
        _, rest = _parse_or(tokens, set())
    except (IndexError, ValueError):
        return False
    return not rest


def allowed(expression: str, allow: Iterable[str]) -> bool:
    """Whether an SPDX expression can be satisfied by licences in ``allow``.

    ``A OR B`` needs one side, ``A AND B`` both, ``A WITH exception`` whatever A needs.
    An expression that does not parse is not allowed.
    """
    permitted = {a.lower() for a in allow}
    tokens = _TOKEN.findall(expression)
    try:
        value, rest = _parse_or(tokens, permitted)
    except (IndexError, ValueError):
        return False
    return value and not rest


def _parse_or(tokens: list[str], permitted: set[str]) -> tuple[bool, list[str]]:
    value, tokens = _parse_and(tokens, permitted)
    while tokens and tokens[0].upper() == "OR":
        right, tokens = _parse_and(tokens[1:], permitted)
        value = value or right
    return value, tokens


def _parse_and(tokens: list[str], permitted: set[str]) -> tuple[bool, list[str]]:
    value, tokens = _parse_atom(tokens, permitted)
    while tokens and tokens[0].upper() == "AND":
        right, tokens = _parse_atom(tokens[1:], permitted)
        value = value and right
    return value, tokens


def _parse_atom(tokens: list[str], permitted: set[str]) -> tuple[bool, list[str]]:
    head, tokens = tokens[0], tokens[1:]
    if head == "(":
        value, tokens = _parse_or(tokens, permitted)
        if not tokens or tokens[0] != ")":
            raise ValueError("unbalanced parenthesis")
        tokens = tokens[1:]
    elif head in (")",) or head.upper() in ("AND", "OR", "WITH"):
        raise ValueError(f"unexpected {head}")
    else:
        value = head.lower().removesuffix("+") in permitted
    if tokens and tokens[0].upper() == "WITH":
        tokens = tokens[2:]
    return value, tokens
