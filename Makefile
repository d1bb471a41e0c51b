# The two commands of the README are `make run` and `make test`; both set up first.
SHELL := /bin/bash
EXAMPLE := examples/churn/kfops.yaml
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: setup run test test-fast lint check-compiled compile benchmark images

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/kfops run --config $(EXAMPLE)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports --no-cache
	.venv/bin/deptry .
# The tests' imports: each declared (main or dev group); dev packages are theirs to use.
	.venv/bin/deptry tests --exclude '\.venv' --ignore DEP002,DEP004

# Both images, tagged as the compiled pipelines name them (`kfops images`); needs a Docker
# engine (scripts/docker-engine.sh start) and, with no registry, debootstrap for the base.
images: setup
	bash scripts/images.sh

compile: setup
	.venv/bin/kfops compile --config $(EXAMPLE)

check-compiled: setup
	.venv/bin/kfops compile --config $(EXAMPLE) --check

test: lint check-compiled
	.venv/bin/pytest

test-fast: setup
	.venv/bin/pytest -m "not slow"

benchmark: setup
	.venv/bin/python benchmarks/pipeline_overhead.py
