"""Project scaffolding for ``daloy-edge new NAME --target lambda|workers|gcf|asgi``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from daloy_edge import __version__
from daloy_edge._errors import ConfigError

__all__ = ["TARGETS", "generate"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"
# What every target's platform accepts as the project's name (a PyPI project name, a Worker,
# a Cloud Function): a letter first, a letter or digit last.
_NAME = re.compile(r"[a-z](?:[a-z0-9-]{0,39}[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class _Target:
    adapter_dist: str
    source_dir: str
    files: dict[str, str]


_COMMON = {
    ".gitignore": "common/gitignore.tmpl",
    "pyproject.toml": "common/pyproject.toml.tmpl",
    # What the platforms install into the deployment; the test tools stay in pyproject's
    # dev group, which the CI installs from uv.lock.
    "requirements.txt": "common/requirements.txt.tmpl",
    "tests/test_app.py": "common/test_app.py.tmpl",
    ".github/workflows/ci.yml": "common/ci.yml.tmpl",
}

TARGETS: dict[str, _Target] = {
    "lambda": _Target(
        "daloy-edge-aws-lambda",
        ".",
        {
            "app.py": "common/app.py.tmpl",
            "handler.py": "lambda/handler.py.tmpl",
            "infra/template.yaml": "lambda/template.yaml.tmpl",
        },
    ),
    "workers": _Target(
        "daloy-edge-cloudflare",
        "src",
        {
            "src/app.py": "common/app.py.tmpl",
            "src/entry.py": "workers/entry.py.tmpl",
            "wrangler.toml": "workers/wrangler.toml.tmpl",
        },
    ),
    "gcf": _Target(
        "daloy-edge-gcp-functions",
        ".",
        {
            "app.py": "common/app.py.tmpl",
            "main.py": "gcf/main.py.tmpl",
            "infra/main.tf": "gcf/main.tf.tmpl",
        },
    ),
    "asgi": _Target(
        "daloy-edge-asgi",
        ".",
        {
            "app.py": "common/app.py.tmpl",
            "asgi.py": "asgi/asgi.py.tmpl",
            "infra/Dockerfile": "asgi/Dockerfile.tmpl",
            ".dockerignore": "asgi/dockerignore.tmpl",
        },
    ),
}


def generate(name: str, target: str, dest: Path) -> list[Path]:
    """Write a new project for ``target`` into ``dest`` (which must not hold files yet)."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            "project name: lower-case letters, digits and '-', starting with a letter and "
            "ending with a letter or digit, at most 41 characters"
        )
    spec = TARGETS.get(target)
    if spec is None:
        raise ConfigError(f"target must be one of {', '.join(sorted(TARGETS))}")
    if dest.exists() and any(dest.iterdir()):
        raise ConfigError(f"{dest} is not empty")
    values = {
        "name": name,
        "adapter_dist": spec.adapter_dist,
        # The release line that wrote the project: a deployment installs no other.
        "release": f"~={__version__}",
        "source_dir": spec.source_dir,
        # A Google service account id is 6 to 30 characters, whatever the name's length.
        "service_account": f"{name[:22]}-runtime",
    }
    written: list[Path] = []
    for relative, template in {**_COMMON, **spec.files}.items():
        text = (_TEMPLATES / template).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
