"""The production wrangler configuration deploys the Worker project in examples/workers.

``infra/cloudflare/wrangler.toml`` is deployed from ``examples/workers`` (``pywrangler
deploy -c ../../infra/cloudflare/wrangler.toml``); it must name the same entry point,
run the same bundle step and ship the same files, and never hold a secret.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import ROOT

PRODUCTION = ROOT / "infra" / "cloudflare" / "wrangler.toml"
EXAMPLE = ROOT / "examples" / "workers" / "wrangler.toml"
PROJECT = EXAMPLE.parent
SECRETS = (
    "DALOY_SESSION_KEYS",
    "DALOY_ADMIN_PASSWORDS",
    "DALOY_WEBHOOK_SECRETS",
    "DALOY_RATE_LIMIT_TOKEN",
)


def config(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def resolved(base: Path, relative: str) -> Path:
    return (base / relative).resolve()


def app_variables() -> set[str]:
    found: set[str] = set()
    for source in (ROOT / "examples").rglob("*.py"):
        found |= set(re.findall(r"DALOY_[A-Z_]+", source.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("base", [PRODUCTION.parent, PROJECT], ids=["from-config", "from-project"])
def test_production_entry_point_is_the_example_entry(base: Path) -> None:
    expected = resolved(PROJECT, config(EXAMPLE)["main"])
    assert resolved(base, config(PRODUCTION)["main"]) == expected


@pytest.mark.parametrize("base", [PRODUCTION.parent, PROJECT], ids=["from-config", "from-project"])
def test_production_build_step_runs_the_example_bundle_script(base: Path) -> None:
    build = config(PRODUCTION)["build"]
    assert build["command"] == config(EXAMPLE)["build"]["command"] == "sh bundle.sh"
    assert resolved(base, build["cwd"]) == PROJECT


def test_production_ships_the_same_static_files() -> None:
    assert config(PRODUCTION)["rules"] == config(EXAMPLE)["rules"]


def test_production_runs_on_the_same_runtime_settings() -> None:
    production, example = config(PRODUCTION), config(EXAMPLE)
    for key in ("compatibility_date", "compatibility_flags"):
        assert production[key] == example[key], key


@pytest.mark.parametrize("path", [PRODUCTION, EXAMPLE], ids=["production", "example"])
def test_no_secret_is_written_into_vars(path: Path) -> None:
    assert set(config(path)["vars"]).isdisjoint(SECRETS)


@pytest.mark.parametrize("path", [PRODUCTION, EXAMPLE], ids=["production", "example"])
def test_every_var_is_one_the_app_reads(path: Path) -> None:
    assert set(config(path)["vars"]) <= app_variables()


@pytest.mark.parametrize("path", [PRODUCTION, EXAMPLE], ids=["production", "example"])
def test_every_secret_is_documented_with_its_put_command(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    missing = [name for name in SECRETS if f"wrangler secret put {name}" not in text]
    assert missing == []


def test_bundle_step_puts_the_app_next_to_the_entry(tmp_path: Path) -> None:
    subprocess.run(["sh", str(PROJECT / "bundle.sh"), str(tmp_path)], check=True)
    entry = (tmp_path / "entry.py").read_text(encoding="utf-8")
    assert "from examples.secure_app import create_app" in entry
    assert (tmp_path / "examples" / "secure_app.py").is_file()
    assert (tmp_path / "examples" / "reference" / "__init__.py").is_file()
    assert (tmp_path / "examples" / "static" / "hello.txt").is_file()


@pytest.mark.parametrize("path", [PRODUCTION, EXAMPLE], ids=["production", "example"])
def test_fetch_is_pinned_to_listed_hosts_where_names_cannot_be_resolved(path: Path) -> None:
    # Workers has no DNS API, so the fetch guard cannot vet the addresses a name resolves
    # to: an empty allow-list left /fetch open to any name anyone can point anywhere.
    hosts = config(path)["vars"].get("DALOY_EGRESS_ALLOW_HOSTS", "")
    assert [host for host in hosts.split(",") if host.strip()] != []


def test_cpu_limit_leaves_room_to_build_the_app_on_an_isolates_first_request() -> None:
    # The Worker builds the app on an isolate's first request: about 80 ms of CPU in
    # Pyodide, so a 50 ms limit failed that request on every new isolate (error 1102).
    assert config(PRODUCTION)["limits"]["cpu_ms"] >= 1000
