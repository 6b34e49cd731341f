# One entry point for people and CI. Every target that needs Python depends on
# `setup`, which creates .venv from pyproject.toml, so a fresh clone needs nothing else.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SAM_VENV := .venv-sam
SETUP_STAMP := $(VENV)/.setup-stamp
GO_MODULES := tests/argo infra/rollouts-plugin tests/flagger
export GOFLAGS ?= -mod=mod
# argo-rollouts v1.10.2 (the newest release) requires Go >= 1.26.10; machines here ship 1.26.8.
# The go command fetches this approved toolchain from the module proxy on first use (~76 MB).
export GOTOOLCHAIN := go1.27.3
export PATH := $(BIN):$(PATH)
# helm is built from the Go module proxy (no binary downloads) into .tools/, pinned here; the
# version is in the path so changing it builds the new one.
HELM_VERSION := v3.22.0
HELM := $(CURDIR)/.tools/helm-$(HELM_VERSION)/helm
CHART := infra/helm/honeycomb-evaluator
HELM_RENDERED := $(CURDIR)/.tools/rendered

.PHONY: help setup run emulator serve test unit lint typecheck pytest go-test go-lint validate-manifests \
        sam-validate sam-build bench calibrate plugin clean helm helm-test image image-debian image-test redis-server fuzz \
        e2e cluster-tools

# `make help` prints every target that has a `## what it does` comment on its line.
help: ## this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z0-9-]*:.*## / {printf "make %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

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

test: lint typecheck pytest sam-validate go-lint go-test validate-manifests helm-test e2e image-test ## everything CI runs: lint, types, pytest, SAM, Go, manifests, chart, control plane, image

lint: setup ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup ## mypy (strict on the evaluator)
	$(BIN)/mypy functions/evaluator/honeycomb_evaluator
	$(BIN)/mypy tests/emulator/honeycomb_emulator

# The fleet simulation (marked slow) starts its own 4 evaluators, moto and the emulator, so it
# runs alone after the rest instead of competing with them for the 2 cores.
# tests/helm runs the helm binary; tests/image runs in image-test, after the image is built;
# tests/cluster runs in e2e, on the control plane it builds.
pytest: setup redis-server $(HELM) ## the Python tests (the slow fleet simulations last, alone)
	HELM=$(HELM) $(BIN)/pytest -n 2 -m "not slow" --ignore=tests/image --ignore=tests/cluster tests
	$(BIN)/pytest -m slow --ignore=tests/image --ignore=tests/cluster tests

# The edit-test loop: every test of the code that starts no server and is not slow (tests that
# start one are marked `servers`; tests/conftest.py refuses an unmarked one). Half a minute.
UNIT_TESTS := tests/evaluator tests/judgement tests/callers tests/sharing tests/state tests/gates tests/telemetry tests/emulator \
  tests/calibration
unit: setup ## the tests that start no server (seconds): the edit-test loop
	$(BIN)/pytest -q -m "not servers and not slow" $(UNIT_TESTS)

# The Redis backend's tests run a real redis-server (tests/support/servers.py starts it on a free
# port). Installed from Debian's packages when missing: CI runs as root on a fresh machine.
redis-server: ## install redis-server (Debian package) when it is missing
	@command -v redis-server >/dev/null || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server; }

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
# release tests/argo/go.mod pins, Flagger's CRDs of the release tests/flagger/go.mod pins (both from
# the Go module cache) and kube-apiserver's core/v1 validation.
# Your own: make validate-manifests MANIFESTS=path/to/your/manifests
MANIFESTS ?= infra
validate-manifests: ## manifests under infra/ (or MANIFESTS=dir) against the Argo Rollouts CRDs and core/v1
	cd tests/argo && go run ./cmd/validate-manifests -root $(abspath $(MANIFESTS))

plugin: ## build the Argo Rollouts plugin for linux/amd64 and linux/arm64
	$(MAKE) -C infra/rollouts-plugin release

# `make test` runs both fuzzers briefly (tests/evaluator/test_fuzz_*.py); this runs them long.
fuzz: setup ## the long fuzz run: schemathesis (all phases, 1,000 examples) and the request fuzzer
	FUZZ_EXAMPLES=1000 FUZZ_PHASES=examples,coverage,fuzzing $(BIN)/pytest -s tests/evaluator/test_fuzz_http.py
	FUZZ_EXAMPLES=5000 $(BIN)/pytest tests/evaluator/test_fuzz_request.py

bench: setup cluster-tools $(HELM) ## benchmarks; figures go to docs/performance.md
	$(MAKE) -C infra/rollouts-plugin host
	$(CLUSTER_ENV) $(BIN)/python -m tests.bench

# The full grid takes about 20 minutes of one core; make test runs a few scenarios of it
# (tests/calibration/test_calibration.py). CALIBRATE_ARGS=--write updates docs/canary-judgement.md.
calibrate: setup ## whole AnalysisRuns of the shipped templates simulated; tables for docs/canary-judgement.md
	$(BIN)/python -m tests.calibration $(CALIBRATE_ARGS)
	$(BIN)/python -m tests.calibration --http

# --- Helm chart -----------------------------------------------------------------------------

# As helm's own Makefile links it: its version, and the Kubernetes version of its client-go
# (v0.37 for helm v3.22), which `helm template` and `helm lint` assume for kubeVersion checks.
HELM_KUBE_MINOR := 37
HELM_LDFLAGS := -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
  $(foreach p,pkg/lint/rules pkg/chartutil,-X helm.sh/helm/v3/$(p).k8sVersionMajor=1 \
    -X helm.sh/helm/v3/$(p).k8sVersionMinor=$(HELM_KUBE_MINOR))

$(HELM):
	GOFLAGS= GOBIN=$(dir $@) go install -ldflags "$(HELM_LDFLAGS)" helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

helm: $(HELM) ## build the pinned helm from the Go module proxy into .tools/

# Lint and render the chart with every values file in tests/helm, then validate what it renders
# like the manifests in infra/ (tests/helm/test_chart.py checks what the manifests say).
helm-test: $(HELM) ## helm lint, helm template and manifest validation of infra/helm
	rm -rf $(HELM_RENDERED)
	@for values in tests/helm/values-*.yaml; do \
	  name=$$(basename $$values .yaml); echo "== $$name"; \
	  $(HELM) lint --strict $(CHART) -f $$values || exit 1; \
	  $(HELM) template honeycomb-evaluator $(CHART) --namespace honeycomb-evaluator -f $$values \
	    --output-dir $(HELM_RENDERED)/$$name > /dev/null || exit 1; \
	done
	cd tests/argo && go run ./cmd/validate-manifests -root $(HELM_RENDERED)

# --- Local control plane --------------------------------------------------------------------
# `make e2e` runs tests/cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok's
# simulated nodes and the Argo Rollouts controller as processes on loopback, with the chart installed
# by helm and the Rollouts of infra/argo-rollouts judged by the controller (docs/contributing.md,
# "The control-plane suite"). Every program is built from the Go module proxy, none downloaded:
# Kubernetes at the k8s.io/kubernetes version that tests/argo/go.mod pins (argo-rollouts' own), in that
# module with its replace lines; the controller and its kubectl plugin at the pinned argo-rollouts;
# etcd from tests/argo/cmd/etcd (etcd's server at the version Kubernetes pins); kwok at KWOK_VERSION.
# They are kept outside the clone, like Go's module cache, in a directory named after the versions,
# so a fresh clone reuses them and a version bump builds anew.
CLUSTER_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/honeycomb-evaluator/cluster
KUBE_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" {print $$2; exit}' tests/argo/go.mod)
ARGO_VERSION := $(shell awk '$$1 == "github.com/argoproj/argo-rollouts" {print $$2; exit}' tests/argo/go.mod)
KWOK_VERSION := v0.7.0
CLUSTER_BIN := $(CLUSTER_CACHE)/kubernetes-$(KUBE_VERSION)-argo-rollouts-$(ARGO_VERSION)
KWOK := $(CLUSTER_CACHE)/kwok-$(KWOK_VERSION)/kwok
KUBE_SEMVER := $(subst ., ,$(patsubst v%,%,$(KUBE_VERSION)))
# What `kubectl version` and the API server's /version report, as Kubernetes' own build stamps them;
# no symbol table or DWARF (-s -w), as Kubernetes releases: a third of the size, same stack traces.
KUBE_LDFLAGS := -s -w $(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version, \
  -X $(p).gitVersion=$(KUBE_VERSION) -X $(p).gitMajor=$(word 1,$(KUBE_SEMVER)) \
  -X $(p).gitMinor=$(word 2,$(KUBE_SEMVER)) -X $(p).gitTreeState=clean)
CLUSTER_PROGRAMS := k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
  github.com/argoproj/argo-rollouts/cmd/rollouts-controller github.com/argoproj/argo-rollouts/cmd/kubectl-argo-rollouts

# Built into a directory of its own and moved into place when complete, so an interrupted build
# (or another clone building at the same time) never leaves a half set behind.
$(CLUSTER_BIN)/.built:
	@echo "Building Kubernetes $(KUBE_VERSION) and Argo Rollouts $(ARGO_VERSION) into $(CLUSTER_BIN) (first run only: minutes)"
	@mkdir -p $(CLUSTER_CACHE)
	partial=$$(mktemp -d $(CLUSTER_BIN).partial.XXXX) && \
	  (cd tests/argo && go build -ldflags "$(KUBE_LDFLAGS)" -o $$partial/ $(CLUSTER_PROGRAMS)) && \
	  touch $$partial/.built && \
	  { test -e $@ && rm -rf $$partial || mv $$partial $(CLUSTER_BIN); }

$(CLUSTER_BIN)/etcd: $(CLUSTER_BIN)/.built tests/argo/cmd/etcd/main.go
	cd tests/argo && go build -ldflags "-s -w" -o $@.partial ./cmd/etcd && mv $@.partial $@

$(KWOK):
	GOFLAGS= GOBIN=$(dir $@) go install -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION)

cluster-tools: $(CLUSTER_BIN)/.built $(CLUSTER_BIN)/etcd $(KWOK) ## build the control plane's programs (cached outside the clone)

# Where tests/cluster (and bench_cluster) find the programs: tests/cluster/tools.py.
CLUSTER_ENV = CLUSTER_BIN=$(CLUSTER_BIN) KWOK=$(KWOK) HELM=$(HELM) \
  ROLLOUTS_PLUGIN=$$($(MAKE) -s --no-print-directory -C infra/rollouts-plugin host-path) \
  ARGO_ROLLOUTS_DIR=$$(cd tests/argo && go list -m -f '{{.Dir}}' github.com/argoproj/argo-rollouts)

e2e: setup cluster-tools $(HELM) ## the whole path on a local control plane: helm install, Rollouts judged by the Argo controller
	$(MAKE) -C infra/rollouts-plugin host
	CLUSTER_REQUIRED=1 $(CLUSTER_ENV) $(BIN)/pytest tests/cluster

# --- OCI image -------------------------------------------------------------------------------
# `make image` uses docker when an engine answers, else podman, else buildah (installed with apt
# when none is present). buildah keeps its images in $(IMAGE_CACHE)/storage, with the vfs driver and
# chroot isolation, which work as root without a container engine. No --layers: vfs copies the
# whole filesystem for every cached step, which costs more than the steps themselves.
IMAGE ?= localhost/honeycomb-evaluator:dev
BASE_IMAGE ?= docker.io/library/python:3.13-slim
BUILDER_IMAGE ?= $(BASE_IMAGE)
# Outside the clone, like Go's module cache: the debootstrapped Debian (minutes of downloads) is
# made once per machine, not once per clone.
IMAGE_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/honeycomb-evaluator/image
BUILDAH := buildah --root $(IMAGE_CACHE)/storage --runroot $(IMAGE_CACHE)/run --storage-driver vfs
# CONTAINER_TOOL=docker|podman|buildah skips the detection.
CONTAINER_TOOL ?=
IMAGE_BUILD_ARGS := --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg BUILDER_IMAGE=$(BUILDER_IMAGE) \
  -f infra/image/Containerfile -t $(IMAGE) .
# Debian packages a tool needs, installed when the tool is absent (root, as CI runs).
APT_INSTALL = DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends

define need
	@command -v $(1) >/dev/null || { apt-get update -q && $(APT_INSTALL) $(2); }
endef

image: ## the OCI image (docker, podman or buildah); BASE_IMAGE=... picks the Python base
	@tool=$(CONTAINER_TOOL); \
	if [ -z "$$tool" ]; then \
	  if docker info >/dev/null 2>&1; then tool=docker; \
	  elif command -v podman >/dev/null; then tool=podman; else tool=buildah; fi; \
	fi; \
	if [ $$tool = buildah ]; then \
	  command -v buildah >/dev/null || { apt-get update -q && $(APT_INSTALL) buildah; } || exit 1; \
	  echo "$(BUILDAH) build --isolation chroot $(IMAGE_BUILD_ARGS)"; \
	  $(BUILDAH) build --isolation chroot $(IMAGE_BUILD_ARGS); \
	else \
	  echo "$$tool build $(IMAGE_BUILD_ARGS)"; $$tool build $(IMAGE_BUILD_ARGS); \
	fi

# Both bases from Debian's packages (infra/image/make-debian-base.sh; cached in $(IMAGE_CACHE)), then
# the same Containerfile on them, with buildah.
image-debian: ## the same image on a Python base made from Debian packages (no registry pulls)
	$(call need,debootstrap,debootstrap)
	$(call need,buildah,buildah)
	BUILDAH_FLAGS="--root $(IMAGE_CACHE)/storage --runroot $(IMAGE_CACHE)/run --storage-driver vfs" \
	  infra/image/make-debian-base.sh $(IMAGE_CACHE)
	$(MAKE) image CONTAINER_TOOL=buildah BASE_IMAGE=localhost/honeycomb-evaluator-base:runtime \
	  BUILDER_IMAGE=localhost/honeycomb-evaluator-base:builder

image-test: image-debian setup ## the image-debian image answers a real evaluation (chroot, no engine)
	IMAGE_CACHE=$(IMAGE_CACHE) EVALUATOR_IMAGE=$(IMAGE) EVALUATOR_IMAGE_REQUIRED=1 $(BIN)/pytest tests/image

clean: ## remove the virtualenvs, build output and caches (not the per-machine image cache)
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .tools
