# Enterprise Identity Operator. Two commands matter: `make run` and `make test`.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(CURDIR)/bin
LOCAL_DIR ?= $(CURDIR)/.local

## Tool versions (installed into bin/ with go install).
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v4.3.1

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)

# Go test flags; TEST_PACKAGES narrows a run, e.g. make test TEST_PACKAGES=./controllers/...
TEST_PACKAGES ?= ./...
GO_TEST_FLAGS ?= -count=1 -timeout 30m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the API types and markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	@./hack/chart-sync.sh

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run

.PHONY: verify
verify: manifests generate fmt ## Fail when generated files or formatting are not committed.
	@if [ -n "$$(git status --porcelain -- api charts config controllers cmd internal go.mod go.sum)" ]; then \
		echo "Generated files or formatting are stale; run 'make manifests generate fmt' and commit:"; \
		git status --porcelain -- api charts config controllers cmd internal go.mod go.sum; exit 1; fi

.PHONY: control-plane
control-plane: ## Build kube-apiserver, etcd and kubectl from the Go module proxy (cached).
	@./hack/control-plane.sh >/dev/null
	@mkdir -p $(LOCALBIN)
	@ln -sf "$$(./hack/control-plane.sh)/kubectl" $(LOCALBIN)/kubectl

.PHONY: chromium
chromium: ## Install headless Chromium from the OS packages when missing (wizard browser tests).
	@./hack/chromium.sh

.PHONY: test
test: manifests generate fmt vet control-plane chromium helm ## Run all tests: real API server, SQLite, a throwaway PostgreSQL, headless Chromium, the Helm chart.
	KUBEBUILDER_ASSETS="$$(./hack/control-plane.sh)" HELM=$(HELM) AXE_JS="$$(./hack/axe.sh)" ./hack/with-postgres.sh go test $(GO_TEST_FLAGS) $(TEST_PACKAGES)

.PHONY: screenshots
screenshots: control-plane chromium ## Walk the wizard in headless Chromium and write its screenshots to docs/images.
	@mkdir -p docs/images
	KUBEBUILDER_ASSETS="$$(./hack/control-plane.sh)" AXE_JS="$$(./hack/axe.sh)" EIO_SCREENSHOTS=$(CURDIR)/docs/images go test -count=1 -run '^(TestWizardInBrowser|TestWizardEditsGroupRoles)$$' ./test/e2e

.PHONY: bench
bench: control-plane ## Run the benchmarks: the SCIM load tool against a server in a separate process (SQLite and PostgreSQL: operations, first sync, growth), the noisy neighbour, webhook delivery and 1,000 organizations at rest; print their figures.
	go test -run '^$$' -bench . -benchmem ./...
	go run ./test/load -external
	go run ./test/load -external -only sync
	go run ./test/load -external -only flat
	go run ./test/load -only noisy
	./hack/with-postgres.sh go run ./test/load -external -store postgres
	./hack/with-postgres.sh go run ./test/load -external -store postgres -only sync
	./hack/with-postgres.sh go run ./test/load -external -store postgres -only flat
	go run ./test/load -only delivery
	./hack/with-postgres.sh go run ./test/load -store postgres -only delivery
	KUBEBUILDER_ASSETS="$$(./hack/control-plane.sh)" go run ./test/scale

# Time each fuzz target runs in make fuzz (their seed corpora, testdata/fuzz, run in make test).
FUZZTIME ?= 20s

.PHONY: fuzz
fuzz: ## Run every fuzz target of the repository for FUZZTIME each; crashers land in testdata/fuzz.
	@for pkg in $$(grep -rl --include='*_test.go' --exclude-dir=.git --exclude-dir=bin --exclude-dir=.local --exclude-dir=testdata \
			'^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		list=$$(go test -list '^Fuzz' $$pkg); \
		for target in $$(echo "$$list" | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

##@ Build

# The image is tagged with the chart's appVersion, so the chart's default image is what make image builds.
VERSION ?= $(shell sed -n 's/^appVersion: *//p' charts/enterprise-identity-operator/Chart.yaml)
IMAGE_REPOSITORY ?= ghcr.io/z8z8/enterprise-identity-operator
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64

.PHONY: image
image: ## Build the manager's OCI image (bin/image.tar: multi-arch, non-root, no shell) and its SBOM, without a container daemon.
	@set -e; pairs=""; for p in $(IMAGE_PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
	  echo "Building the manager for $$p"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags "-s -w" -o $(LOCALBIN)/$${os}_$${arch}/manager ./cmd; \
	  pairs="$$pairs$${pairs:+,}$$p=$(LOCALBIN)/$${os}_$${arch}/manager"; done; \
	go run ./hack/image -binaries "$$pairs" -repository $(IMAGE_REPOSITORY) -tag $(VERSION) \
	  -revision "$$(git rev-parse HEAD 2>/dev/null)" -created "$$(git log -1 --format=%ct 2>/dev/null)" \
	  -out $(LOCALBIN)/image.tar -sbom $(LOCALBIN)/image.spdx.json

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary.
	go build -o $(LOCALBIN)/manager ./cmd

.PHONY: run
run: build control-plane ## Run everything locally: control plane, operator, sample organization.
	@mkdir -p $(LOCAL_DIR)
	KUBEBUILDER_ASSETS="$$(./hack/control-plane.sh)" $(LOCALBIN)/manager --local --local-dir $(LOCAL_DIR)

##@ Tools

$(LOCALBIN):
	@mkdir -p $(LOCALBIN)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: helm
helm: $(HELM) ## Install the pinned helm (the chart's tests render and lint with it).
$(HELM): | $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v4/cmd/helm,$(HELM_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT): | $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# go-install-tool installs a pinned tool as bin/<name>-<version>.
define go-install-tool
@[ -f "$(1)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Installing $${package}" ;\
rm -f $(1) ;\
GOBIN=$(LOCALBIN) go install $${package} ;\
mv $(LOCALBIN)/$$(basename "$$(echo "$(2)" | sed 's#/v[0-9]*$$##')") $(1) ;\
}
endef
