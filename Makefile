.PHONY: dev test bench

dev:
	./scripts/bootstrap.sh && PATH="$$HOME/.local/bin:$$PATH" uv run --locked daloy-edge dev

test:
	./scripts/test.sh

bench:
	PATH="$$HOME/.local/bin:$$PATH" ./scripts/bootstrap.sh && uv run --locked python -m bench $(BENCH_ARGS)
