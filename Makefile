# mmq's entry point: `make` lists the targets. CI (.ci/run) calls `make tools`,
# `make lint` and `make test`.
# Every target that runs tests goes through scripts/test-redis.sh, which finds
# or starts a real Redis and exports MMQ_TEST_REDIS_ADDR.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
BIN       ?= bin/mmq
PKG       ?= ./...
ARGS      ?=
TIMEOUT   ?= 15m
TESTFLAGS ?=
BENCH     ?= .
BENCHTIME ?= 1x
FUZZ      ?= .
FUZZTIME  ?= 30s
# `docker compose` (v2) when it is there, else the old docker-compose.
COMPOSE_ARGS ?=
COMPOSE   ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)

WITH_REDIS := bash scripts/test-redis.sh

# Lint tools, pinned, installed by `make tools` into bin/tools (GOBIN).
STATICCHECK_VERSION ?= v0.8.2
TOOLS_BIN   := $(CURDIR)/bin/tools
STATICCHECK := $(TOOLS_BIN)/staticcheck
# Build tags whose files lint checks too (the chaos suite, the browser test).
LINT_TAGS   ?= chaos,e2e

.PHONY: help run build test test-slow test-race bench chaos lint tools fuzz up down clean e2e test-topologies test-s3 compose-check

help: ## List the targets (this is the default)
	@echo 'Usage: make TARGET [VAR=value ...]'
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo
	@echo 'Variables: ARGS (run), PKG=$(PKG) TESTFLAGS (test, bench), TIMEOUT=$(TIMEOUT),'
	@echo '           BENCH=$(BENCH) BENCHTIME=$(BENCHTIME) (bench), FUZZ=$(FUZZ) FUZZTIME=$(FUZZTIME) (fuzz),'
	@echo '           COMPOSE_ARGS (up, down)'

run: ## Run the whole system (API + workers) in one process; pass flags with ARGS='...'
	$(GO) run ./cmd/mmq run $(ARGS)

build: ## Build the binary into bin/mmq
	$(GO) build -o $(BIN) ./cmd/mmq

# The slow proofs (the bad-input suite, decompression bombs, huge uploads,
# the corpus end to end) are named TestSlow*: `make test` leaves them out so
# that it stays quick; `make test-slow` runs only them; CI runs both.
SLOW := ^TestSlow

test: ## Run every test but the slow proofs (TestSlow*) against a real Redis (found or started by scripts/test-redis.sh)
	$(WITH_REDIS) $(GO) test -count=1 -timeout $(TIMEOUT) -skip '$(SLOW)' $(TESTFLAGS) $(PKG)

test-slow: ## Run only the slow proofs (TestSlow*: bad input, bombs, huge uploads, corpus); CI runs them after make test
	$(WITH_REDIS) $(GO) test -count=1 -timeout $(TIMEOUT) -run '$(SLOW)' $(TESTFLAGS) $(PKG)

test-race: ## Like test, with the race detector (needs cgo and gcc; slow on 2 cores)
	$(WITH_REDIS) $(GO) test -race -count=1 -timeout $(TIMEOUT) $(TESTFLAGS) $(PKG)

bench: ## Run benchmarks once each (BENCH=regex, BENCHTIME=1x, PKG=./pkg/...)
	$(WITH_REDIS) $(GO) test -run '^$$' -bench '$(BENCH)' -benchtime=$(BENCHTIME) -benchmem -count=1 -timeout $(TIMEOUT) $(TESTFLAGS) $(PKG)

CHAOS_JOBS ?= 1000
chaos: ## Chaos suite, real processes: SIGKILLed workers, crashed Redis, SIGTERM; provider faults; webhook receiver down (CHAOS_JOBS=1000)
	MMQ_CHAOS_JOBS=$(CHAOS_JOBS) $(GO) test -tags chaos -count=1 -v -timeout 20m ./internal/chaos/ 2>&1 | grep -v '^{'

tools: ## Install the pinned staticcheck (STATICCHECK_VERSION) into bin/tools
	GOBIN=$(TOOLS_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: ## go vet, gofmt check and staticcheck from bin/tools (`make tools`; required when CI=true)
	$(GO) vet -tags $(LINT_TAGS) $(PKG)
	@unformatted=$$(gofmt -l .); \
	if [[ -n $$unformatted ]]; then echo "gofmt: these files need formatting:"; echo "$$unformatted"; exit 1; fi
	@if [[ -x $(STATICCHECK) ]]; then \
		have=$$($(STATICCHECK) -version); \
		if [[ $$have != *"($(STATICCHECK_VERSION:v%=%))"* ]]; then \
			echo "lint: bin/tools/staticcheck is $$have, not $(STATICCHECK_VERSION): run make tools"; exit 1; \
		fi; \
		echo staticcheck -tags $(LINT_TAGS) $(PKG); $(STATICCHECK) -tags $(LINT_TAGS) $(PKG); \
	elif [[ $${CI:-} == true ]]; then \
		echo 'lint: bin/tools/staticcheck missing, and CI=true requires it: run make tools'; exit 1; \
	else \
		echo 'lint: bin/tools/staticcheck missing; skipped it (make tools installs $(STATICCHECK_VERSION))'; \
	fi

fuzz: ## Run each fuzz target (func FuzzXxx in *_test.go) for FUZZTIME; FUZZ=regex picks targets
	@n=0; \
	while IFS=: read -r file target; do \
		[[ $$target =~ $(FUZZ) ]] || continue; \
		dir=./$$(dirname "$$file"); \
		echo "== fuzz $$dir $$target for $(FUZZTIME)"; \
		$(WITH_REDIS) $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$dir"; \
		n=$$((n + 1)); \
	done < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed -e 's|^\./||' -e 's|:func |:|' | sort); \
	echo "fuzz: ran $$n target(s)"

up: ## Start Redis, the API and 2 workers with docker compose (COMPOSE_ARGS='--profile metrics' adds Prometheus)
	$(COMPOSE) $(COMPOSE_ARGS) up -d --build

down: ## Stop what `make up` started (volumes are kept)
	$(COMPOSE) $(COMPOSE_ARGS) down

E2E_OUT ?= $(CURDIR)/bin/e2e
e2e: ## Browser test: headless Chromium opens asynqmon at /monitoring; screenshots in E2E_OUT=bin/e2e
	MMQ_E2E_OUT=$(E2E_OUT) $(WITH_REDIS) $(GO) test -tags e2e -count=1 -v -timeout 10m -run 'TestBrowser' ./cmd/mmq/ 2>&1 | grep -v '^{'

test-topologies: ## Redis Sentinel (with a failover) and Redis Cluster tests on throwaway local servers
	bash scripts/redis-topologies.sh start
	trap 'bash scripts/redis-topologies.sh stop' EXIT; \
	eval "$$(bash scripts/redis-topologies.sh env | sed 's/^/export /')"; \
	$(GO) test -count=1 -v -timeout 10m -run 'TestRedisCluster|TestRedisSentinel' ./cmd/mmq/ 2>&1 | grep -v -e '^{' -e '^redis: '

test-s3: ## The S3 blob backend's tests against a real S3-compatible server (versitygw, installed on first use)
	bash scripts/s3-test-server.sh start
	trap 'bash scripts/s3-test-server.sh stop' EXIT; \
	eval "$$(bash scripts/s3-test-server.sh env | sed 's/^/export /')"; \
	$(WITH_REDIS) $(GO) test -count=1 -timeout 10m ./s3blob/ ./store/ && \
	$(WITH_REDIS) $(GO) test -count=1 -timeout 10m -run 'TestS3BlobBackend' ./cmd/mmq/

compose-check: ## Validate docker-compose.yml with `docker compose config`, or docker-compose v1 when that is what is installed
	@if docker compose version >/dev/null 2>&1; then \
		docker compose -f docker-compose.yml config -q && echo 'compose-check: docker compose config: ok'; \
	elif command -v docker-compose >/dev/null 2>&1; then \
		tmp=$$(mktemp ./.compose-check.XXXXXX); trap 'rm -f "$$tmp"' EXIT; \
		sed '/^name:/d' docker-compose.yml >"$$tmp"; \
		docker-compose -f "$$tmp" --project-directory . config -q && \
		echo 'compose-check: docker-compose config: ok (v1 predates the top-level name key, which was left out)'; \
	else \
		echo 'compose-check: no docker compose plugin and no docker-compose: skipped (config/compose_test.go still checks the file)'; \
	fi

clean: ## Remove bin/ and test outputs
	rm -rf bin/ coverage*
	$(GO) clean -testcache
