# One entry point for people and CI. Every target that needs Python depends on
# `setup`, which creates .venv from pyproject.toml, so a fresh clone needs nothing else.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SAM_VENV := .venv-sam
SETUP_STAMP := $(VENV)/.setup-stamp
GO_MODULES := tests/argo infra/rollouts-plugin
export GOFLAGS ?= -mod=mod
# argo-rollouts v1.10.2 (the newest release) requires Go >= 1.26.10; machines here ship 1.26.8.
# The go command fetches this approved toolchain from the module proxy on first use (~76 MB).
export GOTOOLCHAIN := go1.27.3
export PATH := $(BIN):$(PATH)

.PHONY: help setup run emulator serve test lint typecheck pytest go-test go-lint validate-manifests \
        sam-validate sam-build bench fuzz plugin clean

help:
	@echo "make run        start the emulator with demo data and the evaluator; show one real evaluation"
	@echo "make test       ruff, mypy, pytest, sam validate, gofmt/go vet, Go tests, manifest validation"
	@echo "make bench      benchmarks; figures go to docs/performance.md"
	@echo "make fuzz       the long fuzz run: schemathesis (all phases, 1,000 examples) and the request fuzzer"
	@echo "make emulator   only the Honeycomb emulator, with demo data, on :8081"
	@echo "make serve      only the evaluator, on :8080"
	@echo "make sam-build  build the Lambda artifact with SAM (no Docker)"
	@echo "make plugin     build the Argo Rollouts plugin for linux/amd64 and linux/arm64"

$(SETUP_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(SETUP_STAMP)

# aws-sam-cli pins many libraries of its own, so it lives in a venv of its own. It is pinned
# exactly because it pins cfn-lint, whose rules decide whether `sam validate --lint` passes
# (to upgrade: change the version, `rm -rf .venv-sam`, rerun make sam-validate).
$(SAM_VENV)/.stamp:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet 'aws-sam-cli==1.170.0'
	touch $@

run: setup
	$(BIN)/python tests/support/run_demo.py

emulator: setup
	$(BIN)/honeycomb-emulator --demo --port 8081

serve: setup
	$(BIN)/honeycomb-evaluator serve --port 8080

test: lint typecheck pytest sam-validate go-lint go-test validate-manifests

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy functions/evaluator/honeycomb_evaluator
	$(BIN)/mypy tests/emulator/honeycomb_emulator

# The fleet simulation (marked slow) starts its own 4 evaluators, moto and the emulator, so it
# runs alone after the rest instead of competing with them for the 2 cores.
pytest: setup
	$(BIN)/pytest -n 2 -m "not slow" tests
	$(BIN)/pytest -m slow tests

# No telemetry, and a region so the SAM transform never has to look for AWS config.
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}

sam-validate: $(SAM_VENV)/.stamp
	$(SAM_ENV) $(SAM_VENV)/bin/sam validate --lint --template template.yaml

# BuildMethod: makefile runs functions/evaluator/Makefile with .venv's python3 (first on PATH).
sam-build: $(SAM_VENV)/.stamp setup
	$(SAM_ENV) $(SAM_VENV)/bin/sam build --template template.yaml

go-lint:
	@for m in $(GO_MODULES); do \
	  out=$$(cd $$m && gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed in $$m: $$out"; exit 1; fi; \
	  (cd $$m && go vet ./...) || exit 1; \
	done

# The Go suites start the emulator and the evaluator themselves from .venv/bin.
go-test: setup
	@for m in $(GO_MODULES); do (cd $$m && EVALUATOR_VENV_BIN=$(BIN) go test -count=1 ./...) || exit 1; done

# Every Kubernetes manifest under infra/ against the Argo Rollouts CRDs of the release
# tests/argo/go.mod pins (from the Go module cache) and kube-apiserver's core/v1 validation.
validate-manifests:
	cd tests/argo && go run ./cmd/validate-manifests -root $(CURDIR)/infra

plugin:
	$(MAKE) -C infra/rollouts-plugin release

# `make test` runs both fuzzers briefly (tests/evaluator/test_fuzz_*.py); this runs them long.
fuzz: setup
	FUZZ_EXAMPLES=1000 FUZZ_PHASES=examples,coverage,fuzzing $(BIN)/pytest -s tests/evaluator/test_fuzz_http.py
	FUZZ_EXAMPLES=5000 $(BIN)/pytest tests/evaluator/test_fuzz_request.py

bench: setup
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
