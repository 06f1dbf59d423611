#!/usr/bin/env bash
# franz-go's own pkg/kgo integration suite (the tests it runs against real
# Kafka: group and transactional ETL with every balancer, KIP-848 variants
# when the broker speaks ConsumerGroupHeartbeat v1, idempotency, fetch
# sessions, ...) against N fresh Strom brokers, from the franz-go module this
# repository builds with.
#
#   make build && deploy/kgosuite.sh 1        # one broker (KGO_TEST_RF=1)
#   deploy/kgosuite.sh 3                      # three brokers, RF 3
#   KGO_RUN=TestTxnEtl deploy/kgosuite.sh 1   # one test
#   BROKER_EXTRA="--log-level debug" deploy/kgosuite.sh 1
#
# Brokers listen on 127.0.0.1:49192, :49292, ...; their logs and the suite's
# output stay in the temp dir named at the end. Exit code: the suite's.
set -uo pipefail
N=${1:-1}
BIN=${STROM_BIN:-bin/strom}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
D=$(mktemp -d /tmp/strom-kgosuite.XXXXXX)
PIDS=()
join="" seeds=""
for id in $(seq 1 "$N"); do
	join+="${join:+,}127.0.0.1:$((49094 + id * 100))"
	seeds+="${seeds:+,}127.0.0.1:$((49092 + id * 100))"
done
stop() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait "${PIDS[@]}" 2>/dev/null; }
trap stop EXIT
for id in $(seq 1 "$N"); do
	k=$((49092 + id * 100)) args=()
	if [ "$N" -gt 1 ]; then
		args=(--raft-addr "127.0.0.1:$((k + 1))" --gossip-addr "127.0.0.1:$((k + 2))" --join "$join" --bootstrap-expect "$N")
	fi
	mkdir -p "$D/b$id"
	# shellcheck disable=SC2086
	"$BIN" broker ${BROKER_EXTRA:-} --node-id "$id" --listen "127.0.0.1:$k" --data-dir "$D/b$id" "${args[@]}" >"$D/b$id.log" 2>&1 &
	PIDS+=($!)
done
for _ in $(seq 1 120); do
	[ "$("$BIN" cluster status --brokers "$seeds" 2>/dev/null | grep -c ' alive')" -ge "$N" ] && break
	sleep 0.5
done
M=$(go list -m -f '{{.Dir}}' github.com/twmb/franz-go)
(cd "$M" && KGO_SEEDS=$seeds KGO_TEST_RF=$N KGO_LOG_LEVEL=${KGO_LOG_LEVEL:-none} \
	go test -count=1 -timeout 25m ${KGO_RUN:+-run "$KGO_RUN"} ./pkg/kgo) >"$D/suite.txt" 2>&1
rc=$?
tail -3 "$D/suite.txt"
echo "kgosuite: $N broker(s), exit $rc; output and broker logs in $D"
exit $rc
