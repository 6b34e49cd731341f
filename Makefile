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
        sam-validate sam-build bench plugin clean

# `make help` prints every target that has a `## what it does` comment on its line.
help: ## this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "make %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# Quiet: a first `make run` should show the demo, not pages of pip output (errors still print).
# setuptools reports every editable install with an information-only warning; that one is muted.
PIP_QUIET := --quiet --disable-pip-version-check
EDITABLE_INFO_OFF := PYTHONWARNINGS="ignore:Editable installation"

$(SETUP_STAMP): pyproject.toml
	@echo "Installing the project and its dev tools into $(VENV) (first run only, a minute or two)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install $(PIP_QUIET) --upgrade pip
	@$(EDITABLE_INFO_OFF) $(BIN)/pip install $(PIP_QUIET) -e '.[dev]'
	@touch $@

setup: $(SETUP_STAMP) ## create .venv with the project and its dev tools (every Python target does this)

# aws-sam-cli pins many libraries of its own, so it lives in a venv of its own. It is pinned
# exactly because it pins cfn-lint, whose rules decide whether `sam validate --lint` passes
# (to upgrade: change the version, `rm -rf .venv-sam`, rerun make sam-validate).
$(SAM_VENV)/.stamp:
	@echo "Installing aws-sam-cli into $(SAM_VENV) (first run only)"
	@$(PYTHON) -m venv $(SAM_VENV)
	@$(SAM_VENV)/bin/pip install $(PIP_QUIET) --upgrade pip
	@$(SAM_VENV)/bin/pip install $(PIP_QUIET) 'aws-sam-cli==1.170.0'
	@touch $@

run: setup ## start the emulator with demo data and the evaluator; show one real evaluation
	$(BIN)/python tests/support/run_demo.py

EMULATOR_PORT ?= 8081
SERVE_PORT ?= 8080

emulator: setup ## only the Honeycomb emulator, with demo data, on :8081 (EMULATOR_PORT)
	$(BIN)/honeycomb-emulator --demo --port $(EMULATOR_PORT)

# Pairs with `make emulator`: unless a Honeycomb key is configured (HONEYCOMB_API_KEY,
# HONEYCOMB_API_KEY_FILE or HONEYCOMB_SECRET_ID), it queries the emulator with its demo key.
# Anonymous callers are allowed unless EVALUATOR_ALLOW_ANONYMOUS says otherwise.
serve: setup ## only the evaluator, on :8080 (SERVE_PORT), against `make emulator` unless a key is set
	@if [ -z "$$HONEYCOMB_API_KEY$$HONEYCOMB_API_KEY_FILE$$HONEYCOMB_SECRET_ID" ]; then \
	  export HONEYCOMB_API_KEY=emulator-key; \
	  export HONEYCOMB_API_URL=$${HONEYCOMB_API_URL:-http://127.0.0.1:$(EMULATOR_PORT)}; \
	  echo "No Honeycomb key configured: querying the emulator at $$HONEYCOMB_API_URL (make emulator)"; \
	fi; \
	export EVALUATOR_ALLOW_ANONYMOUS=$${EVALUATOR_ALLOW_ANONYMOUS:-true}; \
	exec $(BIN)/honeycomb-evaluator serve --port $(SERVE_PORT)

test: lint typecheck pytest sam-validate go-lint go-test validate-manifests ## everything CI runs: lint, types, pytest, SAM, Go, manifests

lint: setup ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup ## mypy (strict on the evaluator)
	$(BIN)/mypy functions/evaluator/honeycomb_evaluator
	$(BIN)/mypy tests/emulator/honeycomb_emulator

# The fleet simulation (marked slow) starts its own 4 evaluators, moto and the emulator, so it
# runs alone after the rest instead of competing with them for the 2 cores.
pytest: setup ## the Python tests (the slow fleet simulation last, alone)
	$(BIN)/pytest -n 2 -m "not slow" tests
	$(BIN)/pytest -m slow tests

# No telemetry, and a region so the SAM transform never has to look for AWS config.
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}

sam-validate: $(SAM_VENV)/.stamp ## sam validate --lint on template.yaml
	$(SAM_ENV) $(SAM_VENV)/bin/sam validate --lint --template template.yaml

# BuildMethod: makefile runs functions/evaluator/Makefile with .venv's python3 (first on PATH).
sam-build: $(SAM_VENV)/.stamp setup ## build the Lambda artifact with SAM (no Docker)
	$(SAM_ENV) $(SAM_VENV)/bin/sam build --template template.yaml

go-lint: ## gofmt and go vet on the Go modules
	@for m in $(GO_MODULES); do \
	  out=$$(cd $$m && gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed in $$m: $$out"; exit 1; fi; \
	  (cd $$m && go vet ./...) || exit 1; \
	done

# The Go suites start the emulator and the evaluator themselves from .venv/bin.
go-test: setup ## Argo contract tests and plugin tests (Go)
	@for m in $(GO_MODULES); do (cd $$m && EVALUATOR_VENV_BIN=$(BIN) go test -count=1 ./...) || exit 1; done

# Every Kubernetes manifest under MANIFESTS (default infra/) against the Argo Rollouts CRDs of the
# release tests/argo/go.mod pins (from the Go module cache) and kube-apiserver's core/v1 validation.
# Your own: make validate-manifests MANIFESTS=path/to/your/manifests
MANIFESTS ?= infra
validate-manifests: ## manifests under infra/ (or MANIFESTS=dir) against the Argo Rollouts CRDs and core/v1
	cd tests/argo && go run ./cmd/validate-manifests -root $(abspath $(MANIFESTS))

plugin: ## build the Argo Rollouts plugin for linux/amd64 and linux/arm64
	$(MAKE) -C infra/rollouts-plugin release

bench: setup ## benchmarks; figures go to docs/performance.md
	$(BIN)/python -m tests.bench

clean: ## remove the virtualenvs, build output and caches
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
