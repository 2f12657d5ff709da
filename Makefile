# rrguard — run `make help` for the targets.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
GO ?= go

# The real control plane for the tests: kube-apiserver and etcd built from
# source (versions pinned in tools/controlplane/*/go.mod).
TESTBIN_DIR := $(shell hack/testbin.sh --print-dir)
export KUBEBUILDER_ASSETS := $(TESTBIN_DIR)

# How long each fuzz target runs in `make test`.
FUZZTIME ?= 10s

CONTROLLER_GEN := $(GO) tool controller-gen
STATICCHECK := $(GO) tool staticcheck

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the binaries into bin/.
	$(GO) build -o bin/ ./cmd/...

.PHONY: generate
generate: ## Regenerate deepcopy code and the CRD from api/.
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd:crdVersions=v1 paths=./api/... output:crd:artifacts:config=manifests/crd/bases

.PHONY: verify-generated
verify-generated: ## Fail when generated files are stale.
	hack/verify-generated.sh

.PHONY: testbin
testbin: ## Build kube-apiserver, etcd, Alertmanager and promtool from source into bin/ (about 25 min cold on 2 quiet cores, instant warm).
	hack/testbin.sh >/dev/null

.PHONY: test
test: testbin verify-generated ## Run every test with -race on the real control plane, then the fuzz targets briefly.
	@echo ">> go test -race -p 1 ./... (about 13 minutes on 2 cores; one package at a time, so that the concurrency tests do not compete for the 2 cores)"
	$(GO) test -race -count=1 -p 1 -timeout 45m ./...
	@hack/fuzz.sh $(FUZZTIME)

.PHONY: lint
lint: ## gofmt check, go vet, staticcheck.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

.PHONY: e2e-cluster
e2e-cluster: ## rrguard on a real one-node cluster built here: cert-manager, kubectl apply -k, the end-to-end checks, tear-down (as root; about 7 min, 45 min on the first run). Not part of `make test`.
	hack/e2e-cluster/run.sh

.PHONY: run
run: testbin build ## Run rrguard locally (control plane, webhook, gateway); prints a URL and a curl; Ctrl-C stops it.
	@echo ">> make run: the first start builds the control plane (about 10-15 min, once), then starts in about 10 s"
	bin/rrguard-dev

.PHONY: demo
demo: build ## With `make run` running: post 50 identical alerts at once and print the resulting RemediationRequests.
	bin/rrguard-dev -demo -burst 50

.PHONY: bench
bench: testbin ## Run the benchmarks in BENCHMARKS.md (about 75 minutes on 2 cores).
	@echo ">> admission latency, uncontended and 32 simultaneous creates over 2 replicas (about 1 min)"
	$(GO) test -run '^$$' -bench Admission -benchtime 100x ./webhook
	@echo ">> gateway pipeline beside the per-signal baseline, 1 fingerprint x 2000 and 2000 fingerprints (about 5 min)"
	$(GO) test -run '^$$' -bench Signals -benchtime 2x -timeout 30m ./gateway/
	@echo ">> scenarios storm/spread/mixed over HTTP: rrguard, the per-signal baseline and kubernaut's design, 3 rounds each in rotated order (about 50 min)"
	$(GO) test -run '^$$' -bench Scenarios -benchtime 1x -timeout 150m ./test/load/
	@echo ">> cost as stored RRs grow: 1,000 / 10,000 / 50,000, 500 samples per figure (about 10 min, a third of it filling)"
	$(GO) test -run '^$$' -bench StoredRRs -benchtime 1x -timeout 60m ./test/load/
	@echo ">> the scan's memory over 50,000 stored RRs beside an unpaged List (about 5 min, mostly filling)"
	$(GO) test -run '^$$' -bench BenchmarkScan -benchtime 3x -timeout 60m ./scan/
