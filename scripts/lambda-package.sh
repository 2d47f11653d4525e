#!/usr/bin/env bash
# The reference app's Lambda deployment package, in the directory given (sam build passes
# $ARTIFACTS_DIR through the Makefile's build-AppFunction target): the core, the Lambda
# adapter, the reference app, and the locked versions of what the deployed configuration
# needs at run time (PyJWT and cryptography for bearer tokens, httpx for the JWKS URL and
# egress), as wheels for the function's runtime. boto3 comes with the Lambda runtime.
#
#   LAMBDA_PYTHON_VERSION  default 3.13 (the template's Runtime)
#   LAMBDA_PLATFORM        default aarch64-manylinux2014 (the template's arm64)
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

requirements="$(mktemp)"
trap 'rm -f "$requirements"' EXIT
uv export --locked --quiet --no-dev --package daloy-edge --extra jwt --extra http \
  --no-emit-workspace --no-hashes --output-file "$requirements"
uv pip install --quiet --target "$out" --requirements "$requirements" --only-binary :all: \
  --python-version "${LAMBDA_PYTHON_VERSION:-3.13}" \
  --python-platform "${LAMBDA_PLATFORM:-aarch64-manylinux2014}"
