# leadflow — run `make help` for the targets.
GO ?= go
PKG := ./...
WORKFLOWCHECK_VERSION := v0.6.0

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_\/-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: dev
dev: ## run everything on this machine (embedded Temporal, PostgreSQL, API, worker)
	$(GO) run ./cmd/leadflow dev

.PHONY: test
test: ## run every test (needs PostgreSQL on 127.0.0.1:5432 or TEST_DATABASE_URL)
	$(GO) test -count=1 -timeout 30m $(PKG)

.PHONY: lint
lint: ## go vet and gofmt
	$(GO) vet $(PKG)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

.PHONY: workflowcheck
workflowcheck: ## check workflow code for non-determinism (Temporal's workflowcheck, pinned)
	$(GO) run go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION) ./workflows/...

.PHONY: fuzz
fuzz: ## fuzz the flow decoder and the ingestion routes for a minute each
	$(GO) test ./flows -run '^$$' -fuzz FuzzDecode -fuzztime 60s
	$(GO) test ./api -run '^$$' -fuzz '^FuzzEvents$$' -fuzztime 60s
	$(GO) test ./api -run '^$$' -fuzz '^FuzzSegment$$' -fuzztime 60s

.PHONY: bench
bench: ## run the benchmark against the baselines (quick mode)
	$(GO) run ./cmd/leadflow bench --quick

.PHONY: ui
ui: ## rebuild the console (ui/dist, committed and embedded) from ui/src; needs Node.js
	cd ui && npm ci && npm run build

.PHONY: screenshots
screenshots: ## retake the README's console screenshots (docs/screenshots) in headless Chromium
	LEADFLOW_SCREENSHOTS=1 $(GO) test -count=1 ./e2e -run TestConsole

.PHONY: migrate
migrate: ## apply database migrations to DATABASE_URL
	$(GO) run ./cmd/leadflow migrate

.PHONY: validate
validate: ## validate the shipped definitions
	$(GO) run ./cmd/leadflow validate definitions/

.PHONY: build
build: ## build ./bin/leadflow
	$(GO) build -o bin/leadflow ./cmd/leadflow

.PHONY: db/reset
db/reset: ## drop and recreate the local leadflow database
	psql -h 127.0.0.1 -U postgres -d postgres -c 'DROP DATABASE IF EXISTS leadflow WITH (FORCE)'
	$(GO) run ./cmd/leadflow migrate
