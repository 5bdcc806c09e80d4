# OMTX-Hub. `make run` and `make test` do all the set-up they need.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
# Debian's Go may be older than go.mod asks; let it fetch the toolchain.
export GOTOOLCHAIN := auto

GO      ?= go
BIN     := bin/omtx
DATA    ?= ./data
ADDR    ?= 127.0.0.1:8080
# Packages with concurrency run under the race detector.
RACE_PKGS := ./jobs/... ./gpu ./results/... ./accounts/... ./ratelimit ./hub ./handlers ./webhook ./metrics ./loadgen ./client ./live

.PHONY: all setup firebase-tools fuzz fuzz-short soak build run test check-format check-generate vet unit race browser e2e bench clean

all: build

setup:
	@scripts/setup.sh

# The Firebase CLI, whose Auth emulator the sign-in tests start (npm, once).
firebase-tools: setup
	@scripts/firebase-tools.sh >/dev/null

build: setup
	$(GO) build -o $(BIN) .

run: build
	$(BIN) serve --addr $(ADDR) --data $(DATA)

test: setup firebase-tools check-format check-generate vet unit race fuzz-short e2e

check-format:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# The generated *_templ.go files are committed; they must be what the
# pinned generator makes of the .templ files.
check-generate:
	@$(GO) tool templ generate >/dev/null
	@out=$$(git status --porcelain -- '*_templ.go'); \
	if [ -n "$$out" ]; then echo "templ generate changed (commit the result):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Everything but the race packages, which run below.
unit:
	$(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -v -x -F -f <($(GO) list $(RACE_PKGS) ./e2e))

race:
	$(GO) test -count=1 -timeout 30m -race $(RACE_PKGS)

# Browser tests: headless Debian Chromium driven by playwright-go against
# a real omtx serve with real Vina. The driver comes from npm, once.
browser:
	@scripts/browser-setup.sh .cache/playwright-driver

# Every fuzz target briefly (5 s each, about 95 s in all; part of make
# test), or for 2 minutes each with make fuzz. An input a fuzzer finds is
# kept under the package's testdata/fuzz/ and runs in every go test after.
fuzz-short:
	@scripts/fuzz.sh 5s

fuzz:
	@scripts/fuzz.sh 2m

# Ten minutes of a real omtx serve at 1,000 req/s of reads and writes:
# errors, rate, latency and whether memory stays flat.
SOAK_DURATION ?= 10m
soak: build
	$(GO) test -count=1 -run '^TestSoak$$' -timeout 0 -v . -soak $(SOAK_DURATION) -soak-bin $(abspath $(BIN))

e2e: browser
	$(GO) test -count=1 -timeout 20m ./e2e/

# Benchmarks; the README quotes what this prints. The docking batch runs
# six ligands with real Vina at default settings: about 20 minutes on 2 cores.
bench: setup
	$(GO) test -run '^$$' -bench 'Submit' -benchtime 3x ./jobs/sqlite/
	$(GO) test -run '^$$' -bench 'LeaseComplete' -benchtime 2000x ./jobs/sqlite/
	$(GO) test -run '^$$' -bench . ./chem/...
	$(GO) test -run '^$$' -bench Finalize -benchtime 5x ./results/
	$(GO) test -run '^$$' -bench Stats -benchtime 20x ./jobs/sqlite/
	$(GO) test -run '^$$' -bench . ./accounts/... ./ratelimit/
	$(GO) test -run '^$$' -bench Results10k -benchtime 5x ./hub/
	$(GO) test -run '^$$' -bench 'APIBatchGet' -benchtime 1x -v . | grep -E '^Benchmark|req/s'
	$(GO) test -run '^$$' -bench 'APIResults10k' .
	set -o pipefail; $(GO) test -run '^$$' -bench 'APIRoutes' -benchtime 1x -v . | grep -E '^Benchmark|req/s|FAIL'
	$(GO) test -run '^$$' -bench DockingBatch -benchtime 1x -timeout 60m .

clean:
	rm -rf bin
