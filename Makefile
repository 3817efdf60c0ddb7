# zhizhi build entry points. `make help` lists them.
VERSION ?= 0.1.0
ARCHES  ?= amd64 arm64 loong64
DIST    ?= dist
GOBUILD := CGO_ENABLED=0 go build -trimpath -ldflags "-s -w"

.PHONY: help build packages dashboards test bench

help:
	@echo "build       static binaries for linux/amd64 into $(DIST)/bin"
	@echo "packages    .deb and .rpm of zhizhi-agent and zhizhi for $(ARCHES) into $(DIST) (VERSION=$(VERSION))"
	@echo "dashboards  regenerate deploy/grafana/dashboards/*.json"
	@echo "test        the full test command (scripts/test.sh)"
	@echo "bench       benchmarks"

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

# Benchmarks (the lead adds the targets): agent cycle RSS/CPU vs node_exporter, server ingest with N agents
# (reports/s, samples/s, p99), spool bytes per sample, e.g.
#   go test -run '^$$' -bench . -benchmem ./agent/... ./collector/...
bench:
	@echo "bench: no benchmark targets yet"
