# iobridge — `make test` runs the whole suite on a fresh machine;
# `make run` starts the demo.

GO ?= go
# TEST_TIMEOUT bounds each package's test binary.
TEST_TIMEOUT ?= 20m
INTEROP := interop
LOCKFILE := $(INTEROP)/package-lock.json
# Stamp holding the hash of the lockfile node_modules was installed from.
LOCKSTAMP := $(INTEROP)/node_modules/.iobridge-lock.sha256

.PHONY: test vet cross gotest interop-deps browser-deps redis-deps run build

test: interop-deps browser-deps redis-deps vet cross gotest

vet:
	$(GO) vet ./...

# CROSS lists the GOOS/GOARCH pairs `make cross` builds besides the host's
# (gotest builds linux/amd64): darwin and windows, the other systems a Go
# user runs iobridge on. Code for one platform sits behind build tags with a
# portable fallback (internal/rawconn). Each pair costs a full compile on a
# cold cache (about 4 CPU-minutes), seconds on a warm one.
CROSS ?= darwin/arm64 windows/amd64

# Cross-compiles every package for each pair in CROSS: build only, no tests
# or vet (vet runs for the host). The build cache keeps a repeated run to
# seconds; a cold cache compiles the standard library once per pair.
cross:
	@for p in $(CROSS); do \
		echo "cross: $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./... || exit 1; \
	done

gotest:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

# npm ci in interop/ when it has a lockfile, unless node_modules was already
# installed from this very lockfile.
interop-deps:
	@if [ -f $(LOCKFILE) ]; then \
		want=$$(sha256sum $(LOCKFILE) | cut -d' ' -f1); \
		have=$$(cat $(LOCKSTAMP) 2>/dev/null || true); \
		if [ "$$want" = "$$have" ] && [ -d $(INTEROP)/node_modules ]; then \
			echo "interop: node_modules is up to date with package-lock.json"; \
		else \
			command -v npm >/dev/null || { echo "interop: npm is needed to install the pinned Socket.IO clients" >&2; exit 1; }; \
			echo "interop: npm ci"; \
			(cd $(INTEROP) && npm ci --no-audit --no-fund) && echo "$$want" > $(LOCKSTAMP); \
		fi; \
	fi

# The interop suite drives the system Chromium through playwright-core (the
# demo page test); a fresh machine gets Debian's chromium package.
browser-deps:
	@if grep -q '"playwright-core"' $(INTEROP)/package.json 2>/dev/null && ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "interop: installing Chromium for the demo page test"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "interop: the demo page test needs Chromium: install the chromium package" >&2; exit 1; \
		fi; \
	fi

# The cluster tests (interop/cluster_test.go) start their own redis-server
# (7.0 or later: the sharded adapter needs SPUBLISH) on a free port of
# 127.0.0.1; a fresh machine gets Debian's redis-server package. The
# package's service is not started: a policy-rc.d answering 101 ("action
# forbidden") is in place during the install, unless one already is.
redis-deps:
	@if ! command -v redis-server >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "interop: installing redis-server for the cluster tests"; \
			export DEBIAN_FRONTEND=noninteractive; \
			policy=/usr/sbin/policy-rc.d; added=; \
			if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' > $$policy && chmod +x $$policy && added=1; fi; \
			apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; st=$$?; \
			if [ -n "$$added" ]; then rm -f $$policy; fi; \
			[ $$st = 0 ] || exit $$st; \
		else \
			echo "interop: the cluster tests need redis-server (7.0 or later): install the redis-server package" >&2; exit 1; \
		fi; \
	fi

run:
	$(GO) run . demo

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o iobridge .
