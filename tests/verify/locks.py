"""Hand-written ``uv.lock`` documents in uv's format, for the metadata gates."""

from __future__ import annotations

H = "sha256:" + "ab" * 32
FILES = "https://files.pythonhosted.org/packages/00/00"
PYPROJECT = """
[project]
name = "demo"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [{deps}]
"""


def package(
    name: str,
    version: str = "1.0",
    *,
    wheels: list[str] | None = None,
    sdist: bool = True,
    deps: list[str] | None = None,
    hashed: bool = True,
    source: str = '{ registry = "https://pypi.org/simple" }',
) -> str:
    wheels = [f"{name}-{version}-py3-none-any.whl"] if wheels is None else wheels
    hash_part = f', hash = "{H}"' if hashed else ""
    lines = ["[[package]]", f'name = "{name}"', f'version = "{version}"', f"source = {source}"]
    if deps:
        lines.append("dependencies = [" + ", ".join(deps) + "]")
    if sdist:
        lines.append(f'sdist = {{ url = "{FILES}/{name}-{version}.tar.gz"{hash_part}, size = 1 }}')
    lines.append("wheels = [")
    lines.extend(f'    {{ url = "{FILES}/{w}"{hash_part}, size = 1 }},' for w in wheels)
    lines.append("]")
    return "\n".join(lines) + "\n"


def lock(*third_party: str, deps: list[str]) -> str:
    edges = ", ".join(d if d.startswith("{") else f'{{ name = "{d}" }}' for d in deps)
    requires = ", ".join(f'{{ name = "{d}" }}' for d in deps if not d.startswith("{"))
    root = (
        '[[package]]\nname = "demo"\nversion = "0.1.0"\nsource = { editable = "." }\n'
        f"dependencies = [{edges}]\n\n[package.metadata]\nrequires-dist = [{requires}]\n"
    )
    head = 'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n\n'
    return head + "\n".join([root, *third_party])


def pyproject(*deps: str) -> str:
    return PYPROJECT.format(deps=", ".join(f'"{d}"' for d in deps))
