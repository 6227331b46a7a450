# apikeys: `make run` starts the server, `make test` runs every test.
SWIFT_BUILD_FLAGS ?=
DATA_DIR ?= data
PORT ?= 7420
CONSOLE_PORT ?= 7430
BIN := .build/debug

FUZZ_SECONDS ?= 300
SOAK_SECONDS ?= 300
KILL_POINTS ?= 150

.PHONY: soak crash bench bench-large all deps build run test test-swift test-swift-postgres test-python test-python-protobuf test-go test-conformance test-quickstart test-console console-screenshots proto proto-check fuzz fuzz-smoke clean

all: build

deps:
	@scripts/deps.sh

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

# apikeysd, and the web console in development mode beside it (scripts/run.sh prints its address).
run: build
	scripts/run.sh $(BIN) $(DATA_DIR) $(PORT) $(CONSOLE_PORT)

# Generated code: protoc-c C, Swift messages, Python messages, Go messages and the Go
# client's typed methods (all committed).
proto: deps
	scripts/generate-proto.sh

proto-check: deps
	scripts/generate-proto.sh --check

# Builds once (with tests), then runs every suite against that build, with a throwaway
# PostgreSQL cluster for the PostgreSQL store's tests (stopped and removed at the end).
test: deps proto-check
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	scripts/with-postgres.sh $(MAKE) --no-print-directory test-swift test-swift-postgres test-python test-python-protobuf test-go test-conformance test-quickstart test-console fuzz-smoke

# Tests that measure time (idle timeouts, deadlines, a flush beside verifications, a restart
# within a deadline) run in an invocation of their own, after the rest: in one process with
# 60 suites in parallel on 2 cores they measured the other suites' CPU use, not the server's.
TIMING_TESTS := RPCServerBackpressureTests|FlushPriorityTests|ConformanceTests|RestartTests|ReconnectingClientTests|GracefulCloseTests

# Everything but the timing tests and the PostgreSQL store's own tests (which start and
# stop clusters of their own).
test-swift:
	scripts/check-client-deps.sh
	swift test --skip-build --skip 'APIKeysPostgresTests|$(TIMING_TESTS)' $(SWIFT_BUILD_FLAGS)
	swift test --skip-build --filter '$(TIMING_TESTS)' $(SWIFT_BUILD_FLAGS)

# The PostgreSQL store's tests, then the rule suites again with every server on PostgreSQL
# (X21: both stores keep every rule).
test-swift-postgres:
	scripts/with-postgres.sh swift test --skip-build --filter APIKeysPostgresTests $(SWIFT_BUILD_FLAGS)
	APIKEYS_TEST_STORE=postgres scripts/with-postgres.sh swift test --skip-build --filter APIKeysIntegrationTests --skip '$(TIMING_TESTS)' $(SWIFT_BUILD_FLAGS)

test-python:
	APIKEYSD=$(CURDIR)/$(BIN)/apikeysd scripts/with-postgres.sh python3 -m pytest -q clients/python/tests

# The Go client against real apikeysd processes of this build (Debian's Go and Go
# protobuf; no module downloads).
test-go:
	cd clients/go && unformatted=$$(gofmt -l .) && [ -z "$$unformatted" ] || { echo "test-go: not gofmt-formatted: $$unformatted" >&2; exit 1; }
	cd clients/go && export APIKEYSD=$(CURDIR)/$(BIN)/apikeysd GOFLAGS=-mod=mod GOPROXY=off && go vet ./... && go test -count=1 ./...

# The web console in headless Chromium (issue 13): a real apikeysd and apikeys-console.
test-console:
	APIKEYSD=$(CURDIR)/$(BIN)/apikeysd APIKEYS_CONSOLE=$(CURDIR)/$(BIN)/apikeys-console python3 -m pytest -q console/tests

# Refreshes the README's console pictures (docs/console/) from a run of the browser tests.
console-screenshots: build
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console $(MAKE) --no-print-directory test-console

# The Python package installed with pip into two fresh venvs, with the lowest and the
# highest protobuf its pyproject.toml accepts; a fast subset (import, encode/decode, a
# Verify against apikeysd) in each. Needs PyPI.
test-python-protobuf:
	APIKEYSD=$(CURDIR)/$(BIN)/apikeysd clients/python/tools/test-protobuf-range.sh

test-conformance:
	scripts/run-conformance.sh $(BIN)

test-quickstart:
	scripts/quickstart.sh $(BIN)

# Load and soak: many connections, Verify and management calls; fails on any error or on
# memory that does not level off (RELIABILITY.md). A 20 s version runs in make test.
soak: build
	APIKEYSD=$(CURDIR)/$(BIN)/apikeysd python3 scripts/soak.py --seconds $(SOAK_SECONDS) --json soak-report.json

# SIGKILL at many random moments under writes; every acknowledged write must survive.
crash: build
	APIKEYSD=$(CURDIR)/$(BIN)/apikeysd APIKEYS_CRASH_KILL_POINTS=$(KILL_POINTS) python3 -m pytest -q -s clients/python/tests/test_crash_safety.py

# Release builds of Benchmarks/ and apikeysd, every row; writes BENCHMARKS.md.
bench: deps
	scripts/bench.sh

# Issue 14 goal 6: start-up, memory and Verify at ten million keys; writes BENCHMARKS-large.md.
bench-large: deps
	scripts/bench-large.sh

# libFuzzer harnesses for the C and Swift decoders (Fuzz/README.md).
fuzz: deps
	scripts/fuzz.sh build
	scripts/fuzz.sh run $(FUZZ_SECONDS)

fuzz-smoke: deps
	scripts/fuzz.sh smoke

clean:
	rm -rf .build
