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
    existed = dest.exists()
    written: list[Path] = []
    try:
        for relative, template in {**_COMMON, **spec.files}.items():
            text = (_TEMPLATES / template).read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace("{{" + key + "}}", value)
            path = dest / relative
            # Named before its folder is made: a folder above it made before one below
            # it could not be (.github before .github/workflows) is taken back too.
            written.append(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError:
        _remove(written, dest if existed else dest.parent)
        raise
    return written


def _remove(written: list[Path], above: Path) -> None:
    """Take back a project only partly written (a full disk, a quota): left, its files,
    the last one cut short, made the destination not empty, and the next try was
    refused. The folders below ``above`` that this left empty go too."""
    for path in written:
        path.unlink(missing_ok=True)
    folders = {
        f for path in written for f in path.parents if f != above and f.is_relative_to(above)
    }
    for folder in sorted(folders, key=lambda folder: len(folder.parts), reverse=True):
        try:
            folder.rmdir()  # only once empty
        except OSError:
            continue
