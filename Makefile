.PHONY: dev test bench build-AppFunction

dev:
	./scripts/bootstrap.sh && PATH="$$HOME/.local/bin:$$PATH" uv run --locked daloy-edge dev

test:
	./scripts/test.sh

bench:
	PATH="$$HOME/.local/bin:$$PATH" ./scripts/bootstrap.sh && uv run --locked python -m bench $(BENCH_ARGS)

# `sam build -t infra/aws/template.yaml` runs this (BuildMethod: makefile) with
# ARTIFACTS_DIR set: the reference app's deployment package, dependencies included.
build-AppFunction:
	./scripts/lambda-package.sh "$(ARTIFACTS_DIR)"
