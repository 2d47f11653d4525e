#!/usr/bin/env bash
# Installs the Pyodide test harness's npm packages (tests/workers, and the older Pyodide releases
# the Workers tests also run on, tests/workers/pyodide-0.2*) from their lock files, only when they
# are missing or older than the lock.
set -euo pipefail
cd "$(dirname "$0")/../tests/workers"
for dir in . pyodide-0.26 pyodide-0.28; do
  if [ ! -f "$dir/node_modules/pyodide/package.json" ] ||
    [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done
