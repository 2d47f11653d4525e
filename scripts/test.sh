#!/usr/bin/env bash
# The whole test suite: environment, services, lint, types, gates and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
export PATH="$HOME/.local/bin:$PATH"
./scripts/system-deps.sh
uv run --locked ruff check .
uv run --locked ruff format --check .
uv run --locked mypy
uv run --locked daloy-edge verify .
uv run --locked pytest "$@"
