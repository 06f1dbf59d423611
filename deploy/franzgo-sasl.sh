#!/usr/bin/env bash
# franz-go's own SASL/SCRAM integration tests (pkg/kgo TestSCRAMAuth and
# TestSCRAMAuthBadCredentials, skipped without a SASL listener) against a
# Strom broker: a PLAINTEXT listener (KGO_SEEDS, where the SCRAM user is
# created as User:ANONYMOUS, the way Kafka users bootstrap) and a
# SASL_PLAINTEXT one (KGO_TEST_SCRAM_SEEDS). tests/franzgo_sasl_test.go runs
# the same in `go test ./tests`.
#
#   make build && deploy/franzgo-sasl.sh
#   FRANZ_GO_DIR=~/src/franz-go deploy/franzgo-sasl.sh   # another checkout
set -euo pipefail

BIN=${STROM_BIN:-bin/strom}
DIR=$(mktemp -d /tmp/strom-franzgo-sasl.XXXXXX)
FRANZ_GO_DIR=${FRANZ_GO_DIR:-$(go list -m -f '{{.Dir}}' github.com/twmb/franz-go)}
PLAIN_PORT=${PLAIN_PORT:-29092}
SASL_PORT=${SASL_PORT:-29094}

cat >"$DIR/server.properties" <<PROPS
listeners=PLAINTEXT://127.0.0.1:$PLAIN_PORT,SASL://127.0.0.1:$SASL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL:SASL_PLAINTEXT
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
raft.addr=127.0.0.1:0
log.dirs=$DIR/data
PROPS

"$BIN" broker --config "$DIR/server.properties" 2>"$DIR/broker.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; echo "broker log: $DIR/broker.log" >&2' EXIT

for _ in $(seq 100); do
	"$BIN" health --brokers 127.0.0.1:$PLAIN_PORT --timeout 1s >/dev/null 2>&1 && break
	sleep 0.1
done
echo testpass | "$BIN" user create testuser --brokers 127.0.0.1:$PLAIN_PORT

status=0
for alg in 256 512; do
	echo "== franz-go TestSCRAM* over SCRAM-SHA-$alg ($FRANZ_GO_DIR)"
	(cd "$FRANZ_GO_DIR" && KGO_SEEDS=127.0.0.1:$PLAIN_PORT KGO_TEST_SCRAM_SEEDS=127.0.0.1:$SASL_PORT \
		KGO_TEST_SCRAM=testuser:testpass:$alg go test -count=1 -v -run '^TestSCRAM' ./pkg/kgo) || status=1
done
exit $status
