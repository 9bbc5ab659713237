# meetd: `make run` serves on :8080; `make test` runs every test.
GO  ?= go
NPM ?= npm
BIN := bin/meetd
WHIPSEND := bin/whipsend

WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts \
	web/tsconfig.json web/tsconfig.node.json web/package.json
GO_SOURCES  := $(shell find cmd internal web -name '*.go' -not -path '*/node_modules/*' 2>/dev/null) go.mod go.sum

.PHONY: all run build web test test-go test-web test-e2e lint chromium firefox net-tools ffmpeg nats clean bench bench-cores netbench FORCE

all: build

run: build
	./$(BIN)

build: $(BIN)

# The commit meetd is built from, and whether the tree had changes, go into
# its build information (`go version -m bin/meetd`), where meetload reads
# them: the Go toolchain's own stamp (vcs.revision) is missing in git
# worktrees and with -buildvcs=false. bin/.vcs changes when they do, so
# that a commit or a change rebuilds meetd with the right stamp.
VCS_LDFLAGS := -X main.vcsRevision=$(shell git rev-parse HEAD 2>/dev/null) \
	-X main.vcsModified=$(shell git status --porcelain 2>/dev/null | grep -q . && echo true || echo false)

bin/.vcs: FORCE
	@mkdir -p bin; echo '$(VCS_LDFLAGS)' | cmp -s - $@ || echo '$(VCS_LDFLAGS)' > $@

FORCE:

$(BIN): web/dist/index.html $(GO_SOURCES) bin/.vcs
	$(GO) build -ldflags '$(VCS_LDFLAGS)' -o $(BIN) ./cmd/meetd

# A WHIP test publisher (a built-in VP8/Opus clip); the browser tests use it.
$(WHIPSEND): $(GO_SOURCES) $(wildcard cmd/whipsend/testdata/*)
	$(GO) build -o $(WHIPSEND) ./cmd/whipsend

web: web/dist/index.html

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && $(NPM) ci --no-audit --no-fund

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && $(NPM) run build

e2e/node_modules/.package-lock.json: e2e/package-lock.json
	cd e2e && $(NPM) ci --no-audit --no-fund

# Browser tests need Chromium; this installs it with apt-get when missing
# (as root) and fails loudly otherwise.
chromium:
	./scripts/ensure-chromium.sh

# The Firefox tests need Firefox ESR; installed the same way.
firefox:
	./scripts/ensure-firefox.sh

# Network tests need ip, iptables and pebble; as root this installs them.
net-tools:
	./scripts/ensure-net-tools.sh

# Recording tests need ffmpeg and ffprobe; as root this installs them.
ffmpeg:
	./scripts/ensure-ffmpeg.sh

# The cluster browser test needs nats-server; as root this installs it.
nats:
	./scripts/ensure-nats.sh

test: lint test-go test-web test-e2e

lint: web/dist/index.html
	@unformatted=$$(gofmt -l cmd internal web/*.go); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# The Go tests run twice: with meetd's own media path (the default: RTP read
# at the shared socket, sent by meetd's egress), under the race detector,
# and with pion's read and write paths for the packages whose behaviour
# depends on them, so that both ways stay correct (docs/media-path.md).
# The two run side by side: the servers they start mostly wait on the
# network, and neither keeps a core busy on its own. The second one's
# output follows the first's.
PION_PATHS := MEETD_FAST_EGRESS=false MEETD_PION_READ_PATH=true
test-go: web/dist/index.html net-tools ffmpeg
	@out=$$(mktemp); \
	$(PION_PATHS) $(GO) test -race -count=1 -timeout 30m ./cmd/meetd ./internal/sfu >$$out 2>&1 & pion=$$!; \
	echo "$(GO) test -race -count=1 -timeout 30m ./..."; \
	$(GO) test -race -count=1 -timeout 30m ./...; own=$$?; \
	wait $$pion; other=$$?; \
	echo "--- with pion's read and write paths ($(PION_PATHS)):"; cat $$out; rm -f $$out; \
	[ $$own -eq 0 ] && [ $$other -eq 0 ]

test-web: web/node_modules/.package-lock.json
	cd web && $(NPM) test

test-e2e: $(BIN) $(WHIPSEND) bin/netshape chromium firefox net-tools nats e2e/node_modules/.package-lock.json
	cd e2e && $(NPM) test

clean:
	rm -rf bin web/dist e2e/artifacts

# Load meetd on loopback (W1 broadcast at 50, 100 and 200 subscribers, the
# same 200 over a cluster of three nodes, W2 meetings of 6 and 10, W4
# simulcast broadcast at 100 and 200) and print a table: meetd's CPU per
# forwarded packet, the floor and their ratio, each cluster node's figures,
# the kernel's limits, and the build measured; see docs/performance.md.
# With two cores or more, meetd (every node) runs on core 0 and the load
# tool on core 1.
BENCH_FLAGS ?= -workloads w1:50,w1:100,w1:200,cluster:200,w2:6,w2:10,w4:100,w4:200 -duration 10s

bin/meetload: $(GO_SOURCES)
	$(GO) build -o bin/meetload ./cmd/meetload

bench: $(BIN) bin/meetload
	@if [ "$$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then \
		taskset -c 1 bin/meetload -meetd $(BIN) -server-cpu 0 $(BENCH_FLAGS); \
	else \
		bin/meetload -meetd $(BIN) -server-cpu -1 $(BENCH_FLAGS); \
	fi

# A user-space emulator of a bad link (loss, rate and queue, delay, jitter)
# between two TUN devices, for the bad-network browser tests.
bin/netshape: $(GO_SOURCES)
	$(GO) build -o bin/netshape ./cmd/netshape

# The bad-network profiles (step down, step up, loss, jitter, bufferbloat),
# each through meetd and as a direct browser-to-browser call, and a table
# of freezes, time to adapt and delay; see docs/performance.md. Needs root.
NETBENCH_FLAGS ?=
netbench: $(BIN) bin/netshape chromium e2e/node_modules/.package-lock.json
	cd e2e && node netbench.mjs $(NETBENCH_FLAGS)

# One broadcast's fan-out on one core and then on two: W1 with 1,000 and
# 2,000 light viewers (pion for the handshake only, then counted at the
# socket), meetd on every core while they join and on core 0, then cores
# 0 and 1, in the window; the tool shares the machine and reports its own
# CPU. At the highest nice priority, as root, so that other work on the
# machine cuts in less; not at real-time priority, under which meetd and
# the tool on the same two cores once spun for minutes without progress
# (docs/performance.md). Several minutes.
CORES_FLAGS ?= -workloads w1light:1000,w1light:2000 -duration 10s -warmup 3s -limits=false

bench-cores: $(BIN) bin/meetload
	@prio=""; if [ "$$(id -u)" = 0 ]; then prio="nice -n -20"; fi; \
	for cpus in 0 0,1; do \
		$$prio bin/meetload -meetd $(BIN) -server-cpu -1 -server-cpus $$cpus $(CORES_FLAGS); \
	done
