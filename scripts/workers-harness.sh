#!/usr/bin/env bash
# Installs the Pyodide test harness's npm packages (tests/workers) from its lock file,
# only when they are missing or older than the lock.
set -euo pipefail
cd "$(dirname "$0")/../tests/workers"
if [ ! -f node_modules/pyodide/package.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
