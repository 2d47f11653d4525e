#!/usr/bin/env sh
# The Worker's build step (wrangler.toml [build]): copies the reference app next to
# src/entry.py, where the runtime imports modules from. Usage: bundle.sh [out-dir]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-"$here/src"}
mkdir -p "$out"
if [ "$(cd "$out" && pwd)" != "$here/src" ]; then
  cp "$here/src/entry.py" "$out/entry.py"
fi
rm -rf "$out/examples"
mkdir -p "$out/examples"
cp "$repo/examples/__init__.py" "$repo/examples/secure_app.py" "$out/examples/"
cp -R "$repo/examples/reference" "$repo/examples/static" "$out/examples/"
find "$out/examples" -name __pycache__ -prune -exec rm -rf {} +
