# function-packet-capture. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
OUTPUT ?= _output
export FPC_TOOLS_CACHE ?= $(HOME)/.cache/fpc-tools

.DEFAULT_GOAL := help

help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

generate: ## Regenerate the Input's deepcopy functions and CRD (package/input).
	cd input && $(GO) generate -tags generate ./...

check-generate: generate ## Fail when generated files are stale.
	@git diff --exit-code -- input/v1beta1/zz_generated.deepcopy.go package/input || { echo "generated files are stale: run 'make generate' and commit" >&2; exit 1; }

build: ## Build the static function binary into $(OUTPUT)/bin.
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags='-s -w' -o $(OUTPUT)/bin/function-packet-capture .

plugin: ## Build the kubectl plugin kubectl-packetcapture into $(OUTPUT)/bin (put it on PATH: kubectl packetcapture fetch NAME).
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags='-s -w' -o $(OUTPUT)/bin/kubectl-packetcapture ./cmd/kubectl-packetcapture

test: check-generate validate ## Run every test (unit, adapters, render, kpt, payload, validate).
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	cd tools/image && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd test/package && $(GO) vet ./... && $(GO) test -count=1 ./...

validate: ## Validate every example (XRs, claims, XRDs, Compositions and their Input) offline with crossplane beta validate.
	hack/validate.sh

xpkg: ## Build the Crossplane package (linux/amd64, linux/arm64) into $(OUTPUT) without Docker.
	hack/xpkg.sh $(OUTPUT)

render: ## Render the example PacketCapture (example/xr.yaml) into its ConfigMap and Jobs.
	hack/render.sh example/xr.yaml example/composition.yaml example/functions.yaml example/required-resources.yaml -r

render-legacy: ## Render the legacy claim variant (example/legacy).
	hack/render.sh example/legacy/xr.yaml example/legacy/composition.yaml example/functions.yaml example/required-resources.yaml,example/legacy/claim.yaml -r

kpt: ## Generate the capture Jobs of the example kpt package (example/kpt) with kpt fn render: KRM function mode.
	OUTPUT=$(OUTPUT) hack/kpt.sh

lint: ## go vet and staticcheck (pinned in tools/staticcheck).
	$(GO) vet ./...
	hack/staticcheck.sh ./...

fuzz: ## Fuzz each target for FUZZTIME (default 20s): fn (RunFunction from bytes, from fields) and krm (ResourceList from bytes, from fields). make test runs their seed corpora.
	@for target in fn:FuzzRunFunction fn:FuzzRunFunctionXR krm:FuzzRun krm:FuzzRunFields; do \
		echo "== $${target}"; \
		$(GO) test ./$${target%%:*} -run '^$$' -fuzz "^$${target#*:}"'$$' -fuzztime $(or $(FUZZTIME),20s); \
	done
.PHONY: fuzz

bench: ## Run the benchmarks.
	$(GO) test -run='^$$' -bench=. -benchmem ./...

CAPTURE_IMAGE_TAG ?= function-packet-capture/capture:dev

capture-image: ## Build the capture image (busybox, tcpdump, nsenter from this Debian machine) reproducibly into $(OUTPUT)/capture-image-<arch>.tar; see the README.
	cd tools/image && $(GO) build -o $(abspath $(OUTPUT))/bin/image .
	$(OUTPUT)/bin/image capture -tag $(CAPTURE_IMAGE_TAG) -o $(OUTPUT)/capture-image-$$($(GO) env GOARCH).tar

.PHONY: help generate check-generate build plugin test render render-legacy kpt lint bench xpkg validate capture-image

e2e: ## Run the end-to-end test in a real control plane (etcd, kube-apiserver, kube-controller-manager, Crossplane) run as local processes, no Docker; see docs/e2e.md.
	hack/e2e.sh

.PHONY: e2e
