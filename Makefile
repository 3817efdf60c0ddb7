# zhizhi build entry points. `make help` lists them.
VERSION ?= 0.1.0
ARCHES  ?= amd64 arm64 loong64
DIST    ?= dist
GOBUILD := CGO_ENABLED=0 go build -trimpath -ldflags "-s -w"

.PHONY: help build packages dashboards test bench bench-build bench-footprint bench-agentcycle bench-ingest bench-spool

help:
	@echo "build       static binaries for linux/amd64 into $(DIST)/bin"
	@echo "packages    .deb and .rpm of zhizhi-agent and zhizhi for $(ARCHES) into $(DIST) (VERSION=$(VERSION))"
	@echo "dashboards  regenerate deploy/grafana/dashboards/*.json"
	@echo "test        the full test command (scripts/test.sh)"
	@echo "bench       all benchmarks (docs/benchmarks.md): bench-footprint, bench-agentcycle, bench-ingest, bench-spool"

build:
	$(GOBUILD) -o $(DIST)/bin/zhizhi-agent ./cmd/zhizhi-agent
	$(GOBUILD) -o $(DIST)/bin/zhizhi ./cmd/zhizhi

packages:
	for arch in $(ARCHES); do \
		go run ./deploy/packaging -version $(VERSION) -arch $$arch -out $(DIST) || exit 1; \
	done

dashboards:
	go run ./deploy/grafana/gen

test:
	scripts/test.sh

# Benchmarks (docs/benchmarks.md): agent RSS/CPU per cycle vs node_exporter, server ingest with N simulated
# agents, spool bytes per sample. BENCH_MINUTES, BENCH_AGENTS, BENCH_INTERVAL, BENCH_DURATION tune them.
BENCH_BIN      ?= $(DIST)/bench
BENCH_MINUTES  ?= 3
BENCH_AGENTS   ?= 10000
BENCH_INTERVAL ?= 15s
BENCH_DURATION ?= 60s

bench: bench-build bench-footprint bench-agentcycle bench-ingest bench-spool

bench-build:
	$(GOBUILD) -o $(BENCH_BIN)/zhizhi-agent ./cmd/zhizhi-agent
	$(GOBUILD) -o $(BENCH_BIN)/zhizhi ./cmd/zhizhi
	go build -o $(BENCH_BIN)/ingestload ./bench/ingestload
	go build -o $(BENCH_BIN)/spoolsize ./bench/spoolsize
	go build -o $(BENCH_BIN)/agentcycle ./bench/agentcycle

bench-footprint: bench-build
	BIN_DIR=$(BENCH_BIN) bench/agent-footprint.sh $(BENCH_MINUTES)

bench-agentcycle: bench-build
	$(BENCH_BIN)/agentcycle

bench-ingest: bench-build
	$(BENCH_BIN)/ingestload -zhizhi $(BENCH_BIN)/zhizhi -agents $(BENCH_AGENTS) -interval $(BENCH_INTERVAL) -duration $(BENCH_DURATION)

bench-spool: bench-build
	go test -run '^$$' -bench 'BenchmarkAppend|BenchmarkPeekAck' -benchmem ./agent/spool
	bench/spool-once.sh $(BENCH_BIN)
