#!/usr/bin/env bash
# The reference app's Lambda deployment package, in the directory given (sam build passes
# $ARTIFACTS_DIR through the Makefile's build-AppFunction target): the core, the Lambda
# adapter, the reference app, and the locked versions of what the deployed configuration
# needs at run time (PyJWT and cryptography for bearer tokens, httpx for the JWKS URL and
# egress), as wheels for the function's runtime. boto3 comes with the Lambda runtime.
#
# Every module ships with its bytecode for the function's Python (unchecked-hash caches,
# which a zip's coarse timestamps cannot make stale): a function's code is read-only, so
# without them each cold start compiles every module it imports from source, about nine
# times the instructions of the reference app's whole cold start with them.
#
#   LAMBDA_PYTHON_VERSION  default 3.13 (the template's Runtime)
#   LAMBDA_PLATFORM        default aarch64-manylinux2014 (the template's arm64)
#   LAMBDA_PYTHON          an interpreter of that version, to compile the bytecode with
#                          (default: python<version> on PATH, or one uv knows)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/lambda-package.sh OUT_DIR}"
export PATH="$HOME/.local/bin:$PATH" UV_PYTHON_DOWNLOADS=never
./scripts/bootstrap.sh

mkdir -p "$out/examples"
cp -R daloy_edge adapters/aws_lambda/daloy_edge_aws_lambda "$out/"
cp examples/__init__.py examples/secure_app.py "$out/examples/"
cp -R examples/reference examples/lambda examples/static "$out/examples/"
find "$out" -name __pycache__ -type d -prune -exec rm -rf {} +
# It extends the repository's pyproject.toml, which the package has not: ruff run over a
# project holding the package refused to start.
rm -f "$out/daloy_edge/ruff.toml"

requirements="$(mktemp)"
trap 'rm -f "$requirements"' EXIT
uv export --locked --quiet --no-dev --package daloy-edge --extra jwt --extra http \
  --no-emit-workspace --no-hashes --output-file "$requirements"
version="${LAMBDA_PYTHON_VERSION:-3.13}"
uv pip install --quiet --target "$out" --requirements "$requirements" --only-binary :all: \
  --python-version "$version" \
  --python-platform "${LAMBDA_PLATFORM:-aarch64-manylinux2014}"

is_version() { "$1" -c "import sys; sys.exit(f'{sys.version_info[0]}.{sys.version_info[1]}' != '$version')" 2>/dev/null; }
python="${LAMBDA_PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in "python$version" "$(uv python find --no-project "$version" 2>/dev/null || true)"; do
    if [ -n "$candidate" ] && is_version "$candidate"; then python="$candidate"; break; fi
  done
fi
if [ -n "$python" ] && is_version "$python"; then
  # -q lists only what fails to compile, which then ships without bytecode.
  "$python" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$out" ||
    echo "lambda-package: the files above did not compile and ship without bytecode" >&2
else
  if [ -n "${LAMBDA_PYTHON:-}" ]; then
    echo "lambda-package: LAMBDA_PYTHON=$LAMBDA_PYTHON is not a Python $version" >&2
  fi
  echo "lambda-package: WARNING: no Python $version here (set LAMBDA_PYTHON): the package has" \
    "no bytecode, so every cold start compiles each module it imports" >&2
fi
