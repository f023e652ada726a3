# pgsurreal: the two commands are `make demo` and `make test`.
GO        ?= go
BIN       := bin/pgsurreal
DEVSERVER := tools/surreal-dev-server
TEST_STACK := testdata/test-stack.yaml
GOTEST_FLAGS ?= -race -count=1 -timeout 30m

.PHONY: all build deps demo test lint chromium test-stack-down bench-devserver clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/pgsurreal

# deps installs the dev server's pinned npm packages (package-lock.json)
# and downloads the Go modules. `pgsurreal dev up` installs its own copy
# of the dev server too; this one is for running it from the repo and
# for the benchmarks.
deps: $(DEVSERVER)/node_modules/.package-lock.json
	$(GO) mod download

$(DEVSERVER)/node_modules/.package-lock.json: $(DEVSERVER)/package-lock.json
	@command -v node >/dev/null || { echo "Node.js 20+ is required: install it (Debian: apt-get install nodejs npm)"; exit 1; }
	cd $(DEVSERVER) && npm ci --no-audit --no-fund --loglevel=error

# demo: build, start the dev stack (PostgreSQL + SurrealDB), check it,
# then load a sample shop into PostgreSQL, replicate it into SurrealDB and
# show the documents, links, edges and a live change (`pgsurreal demo`).
demo: build deps
	./$(BIN) dev up
	./$(BIN) doctor
	./$(BIN) demo
	@echo
	@echo "The dev stack is running. Stop it with: ./$(BIN) dev down  (data is kept; ./$(BIN) dev reset wipes it)"

lint:
	@out=$$(gofmt -l cmd internal tools bench 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# test: every test against the real servers. internal/testenv starts the
# shared test stack on first use; it is stopped here afterwards.
test: build deps lint chromium check-alerts
	$(GO) test $(GOTEST_FLAGS) ./... ; rc=$$?; \
	./$(BIN) --config $(TEST_STACK) dev down >/dev/null || true; \
	exit $$rc

# chromium: the dashboard's browser test (internal/dashboard) runs
# headless Chromium. Installed from the distribution's package when
# /usr/bin/chromium is missing (Debian/Ubuntu: apt-get; as root, or with
# sudo); nothing is done when it is there.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		command -v apt-get >/dev/null || { echo "chromium is required for the browser test: install it (Debian: apt-get install chromium)"; exit 1; }; \
		sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		echo "installing chromium for the dashboard's browser test"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null; \
	fi

# check-alerts validates the Prometheus rules and config and runs the
# rules' unit tests (deploy/prometheus) with promtool, installed once per
# machine by `go install` into ~/.cache/pgsurreal/bin (the first build
# takes minutes; later runs and fresh clones reuse the binary).
PROMTOOL_VERSION := v0.316.0
PROMTOOL_DIR := $(HOME)/.cache/pgsurreal/bin
PROMTOOL := $(PROMTOOL_DIR)/promtool-$(PROMTOOL_VERSION)
.PHONY: check-alerts
check-alerts: $(PROMTOOL)
	$(PROMTOOL) check rules deploy/prometheus/alerts.yml
	$(PROMTOOL) check config deploy/prometheus/prometheus.yml
	$(PROMTOOL) test rules deploy/prometheus/alerts_test.yml

$(PROMTOOL):
	@mkdir -p $(PROMTOOL_DIR)/tmp
	GOBIN=$(PROMTOOL_DIR)/tmp $(GO) install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)
	mv $(PROMTOOL_DIR)/tmp/promtool $@

test-stack-down:
	./$(BIN) --config $(TEST_STACK) dev down

bench-devserver: deps
	node bench/devserver/bench.mjs

# The Go benchmarks run against the shared test stack (started if needed
# and then stopped again; left alone if it was running). Scale them with
# BENCH_FLAGS, e.g. make bench-snapshot BENCH_FLAGS="-rows 200000".
.PHONY: bench-snapshot bench-streaming bench-reverse bench-federation bench-tx bench-verify bench-failover bench-publish
BENCH_FLAGS ?=

bench-snapshot:
	$(GO) run ./bench/snapshot $(BENCH_FLAGS)

bench-streaming:
	$(GO) run ./bench/streaming $(BENCH_FLAGS)

bench-reverse:
	$(GO) run ./bench/reverse $(BENCH_FLAGS)

bench-federation:
	$(GO) run ./bench/federation $(BENCH_FLAGS)

bench-tx:
	$(GO) run ./bench/tx $(BENCH_FLAGS)

bench-verify:
	$(GO) run ./bench/verify $(BENCH_FLAGS)

bench-failover:
	$(GO) run ./bench/failover $(BENCH_FLAGS)

bench-publish:
	$(GO) run ./bench/publish $(BENCH_FLAGS)

clean:
	rm -rf bin
