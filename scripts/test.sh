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
if [ $# -eq 0 ]; then
  # The Workers tests again on the older Pyodide releases Python Workers run, chosen by their
  # compatibility date and flags (docs/quickstart/workers.md); about half a minute each.
  for line in 0.26 0.28; do
    DALOY_PYODIDE="tests/workers/pyodide-$line/node_modules/pyodide" uv run --locked pytest -q tests/workers
  done
fi
uv run --locked pytest "$@"
