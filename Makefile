# Strom — see README.md. `make run` starts a broker with the defaults;
# `make test` runs every test.

SHELL   := bash
GO       ?= go
BIN      := bin/strom
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PKGS     := ./...
# Packages with concurrency run under the race detector.
RACE_PKGS := ./storage/... ./wire/... ./raftmeta/... ./replica/... ./internal/group/... ./internal/share/... ./internal/membership/... ./internal/server/... ./internal/cluster/... \
             ./internal/controller/... ./internal/reconciler/... ./internal/chaoscheck/... ./internal/testlog/... ./internal/netfault/... \
             ./internal/acl/... ./internal/sasl/... ./internal/certs/... ./internal/txn/... ./internal/console/... ./internal/sharetest/... ./internal/coordlog/...


.PHONY: all build run cluster cluster-stop test vet fmt-check pkgs-check bench scale fuzz chaos clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/strom

run: build
	./$(BIN) broker

# A local 3-broker cluster in the foreground (Ctrl-C stops it); see README
# "A local cluster". `deploy/cluster.sh --detach` leaves it running in the
# background and `make cluster-stop` stops it.
cluster: build
	STROM_BIN=./$(BIN) deploy/cluster.sh

cluster-stop:
	deploy/cluster.sh --stop

# tests/ and tests/compose build and run the broker as a process (and an
# image), which go test's cache cannot see, hence -count=1 there.
test: fmt-check vet pkgs-check build
	$(GO) test -race -timeout 30m $(RACE_PKGS)
	$(GO) test -timeout 30m $(PLAIN_PKGS)
	$(GO) test -count=1 -timeout 30m $(PROC_PKGS)

# Packages tested without the race detector, and the process tests.
PLAIN_PKGS := ./cmd/... ./internal/cli/... ./internal/ordinal/... ./deploy/...
PROC_PKGS  := ./tests/...

# pkgs-check fails when a package is in none of the test lists above: its
# tests would never run.
pkgs-check:
	@missing=$$(comm -23 <($(GO) list $(PKGS) | sort) <($(GO) list $(RACE_PKGS) $(PLAIN_PKGS) $(PROC_PKGS) | sort)); \
	if [ -n "$$missing" ]; then echo "packages in no test list of the Makefile (add them to RACE_PKGS or PLAIN_PKGS):"; echo "$$missing"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./storage/ ./wire/

# One broker with 10 002 partitions (3 334 topics): start-up time, RSS,
# descriptors, goroutines, produce throughput (deploy/scale). Takes minutes.
scale: build
	$(GO) run ./deploy/scale --bin $(BIN)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeRequest -fuzztime 60s ./wire/
	$(GO) test -run '^$$' -fuzz FuzzParseBatches -fuzztime 60s ./storage/
	$(GO) test -run '^$$' -fuzz FuzzDecodeSnapshot -fuzztime 60s ./replica/

# Chaos: 3 broker processes under an acks=all producer and a consumer group
# with SIGKILLs, SIGSTOP pauses and two brokers killed at once; interop
# clients after a leader kill; failover timing; then 3 in-process brokers
# under network partitions (internal/netfault). Longer runs by hand:
#   STROM_CHAOS_FAULTS=100 make chaos          (100 faults in each suite)
#   STROM_CHAOS_DURATION=10m STROM_FAILOVER_KILLS=20 make chaos
chaos: build
	$(GO) test -count=1 -timeout 60m -v -run 'TestChaos|TestInteropCluster' ./tests/
	$(GO) test -race -count=1 -timeout 60m -v -run 'TestChaos' ./internal/cluster/

# image: the broker image, FROM scratch around the static binary (no registry
# needed). compose-test: the 3-broker docker-compose.yml cluster end to end.
.PHONY: image compose-test
image: build
	docker build -f deploy/Dockerfile -t strom:latest .

compose-test: image
	STROM_COMPOSE_IMAGE_BUILT=1 $(GO) test -count=1 -timeout 5m -v ./tests/compose/

clean:
	rm -rf bin

# Docker-level chaos on the docker-compose.yml cluster: docker kill (a broker,
# the controller), docker pause, a network partition and a rolling restart,
# each under an idempotent acks=all producer; see tests/compose.
.PHONY: chaos-docker
chaos-docker: image
	STROM_COMPOSE_IMAGE_BUILT=1 $(GO) test -count=1 -timeout 10m -v -run TestComposeChaos ./tests/compose/

# secure-cluster: docker-compose.secure.yml as project strom-secure (README
# "Secured cluster"): SASL_SSL on localhost:19093/29093/39093. Needs
# STROM_CLUSTER_KEYS and STROM_ADMIN_PASSWORD in the environment (keep the
# key: restarted brokers need the same one). secure-cluster-stop keeps the
# volumes (data, certificates); secure-cluster-clean deletes them too; the
# variables are not used by down, so placeholders stand in when unset.
# secure-compose-test: the end-to-end test of the secured cluster.
COMPOSE = $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
SECURE_COMPOSE = STROM_CLUSTER_KEYS=$${STROM_CLUSTER_KEYS:-unused} STROM_ADMIN_PASSWORD=$${STROM_ADMIN_PASSWORD:-unused} \
	$(COMPOSE) -p strom-secure -f docker-compose.secure.yml
.PHONY: secure-cluster secure-cluster-stop secure-cluster-clean secure-compose-test
secure-cluster: image
	@test -n "$$STROM_CLUSTER_KEYS" && test -n "$$STROM_ADMIN_PASSWORD" || { \
	  echo 'set STROM_CLUSTER_KEYS and STROM_ADMIN_PASSWORD first, e.g.'; \
	  echo '  export STROM_CLUSTER_KEYS=$$(head -c 32 /dev/urandom | base64) STROM_ADMIN_PASSWORD=$$(head -c 18 /dev/urandom | base64)'; exit 1; }
	$(COMPOSE) -p strom-secure -f docker-compose.secure.yml up -d

secure-cluster-stop:
	$(SECURE_COMPOSE) down

secure-cluster-clean:
	$(SECURE_COMPOSE) down -v

secure-compose-test: image
	STROM_COMPOSE_IMAGE_BUILT=1 $(GO) test -count=1 -timeout 5m -v -run TestSecureComposeCluster ./tests/compose/
