#!/usr/bin/env bash
# What security costs: produce and consume throughput over SASL_SSL
# (TLS 1.3, SCRAM-SHA-512) against PLAINTEXT on one broker, alternating
# within each run so both see the same background load; medians over the
# runs and their ratio. The README's Security section quotes it.
#
#   make build && deploy/secperf.sh          # 3 alternating runs
#   RUNS=5 RECORDS=3000000 deploy/secperf.sh
#   PORT_BASE=38492 (the PLAINTEXT, SASL_SSL and Raft ports are it, +1, +2)
#
# One broker with two listeners on the same log: PLAIN (PLAINTEXT) and
# SECURE (SASL_SSL, a `strom certs` CA). Each run produces RECORDS 100-byte
# records at acks=1 to a fresh 6-partition topic through each listener,
# then consumes them back through the same one (`strom bench`; the secured
# runs pass --command-config, as a Kafka tool would).
set -euo pipefail

BIN=${STROM_BIN:-bin/strom}
RUNS=${RUNS:-3}
RECORDS=${RECORDS:-2000000}
DIR=$(mktemp -d /tmp/strom-secperf.XXXXXX)
PLAIN=127.0.0.1:${PORT_BASE:-38492}
SECURE=127.0.0.1:$((${PORT_BASE:-38492} + 1))
PID=

log() { printf 'secperf: %s\n' "$*" >&2; }
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR/data"' EXIT

"$BIN" certs --out "$DIR/certs" --broker 127.0.0.1 --client "" >/dev/null
"$BIN" broker --listen "PLAIN://$PLAIN,SECURE://$SECURE" \
	--listener-security-protocol-map PLAIN:PLAINTEXT,SECURE:SASL_SSL \
	--ssl-keystore-location "$DIR/certs/broker.keystore.pem" --ssl-truststore-location "$DIR/certs/ca.pem" \
	--raft-addr "127.0.0.1:$((${PORT_BASE:-38492} + 2))" --data-dir "$DIR/data" --log-level warn >"$DIR/broker.log" 2>&1 &
PID=$!
for _ in $(seq 1 60); do
	"$BIN" health --brokers "$PLAIN" >/dev/null 2>&1 && break
	if ! kill -0 "$PID" 2>/dev/null; then log "the broker exited:"; tail -5 "$DIR/broker.log" >&2; exit 1; fi
	sleep 0.5
done
echo bench-secret | "$BIN" user create bench --mechanism SCRAM-SHA-512 --brokers "$PLAIN" >/dev/null
cat >"$DIR/client.properties" <<P
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.username=bench
sasl.password=bench-secret
ssl.truststore.location=$DIR/certs/ca.pem
P

rate() { sed -E 's/.*"records_per_sec": *([0-9.]+).*/\1/' | cut -d. -f1; }
declare -A got
for run in $(seq 1 "$RUNS"); do
	for mode in plain secure; do
		addr=$PLAIN extra=()
		if [ "$mode" = secure ]; then addr=$SECURE extra=(--command-config "$DIR/client.properties"); fi
		topic="t-$mode-$run"
		"$BIN" topic create "$topic" --partitions 6 --brokers "$addr" "${extra[@]}" >/dev/null
		p=$("$BIN" bench produce --brokers "$addr" "${extra[@]}" --topic "$topic" --records "$RECORDS" --record-size 100 --acks 1 --progress 0 --json | tr -d '\n' | rate)
		c=$("$BIN" bench consume --brokers "$addr" "${extra[@]}" --topic "$topic" --records "$RECORDS" --progress 0 --json | tr -d '\n' | rate)
		got[$mode-produce]+="$p " got[$mode-consume]+="$c "
		log "run $run $mode: produce $p rec/s, consume $c rec/s"
	done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '\n%-8s %14s %14s %7s\n' "" "PLAINTEXT" "SASL_SSL" "ratio"
for what in produce consume; do
	pl=$(echo "${got[plain-$what]}" | median) se=$(echo "${got[secure-$what]}" | median)
	printf '%-8s %10s rec/s %10s rec/s %7s\n' "$what" "$pl" "$se" "$(awk -v a="$se" -v b="$pl" 'BEGIN {printf "%.2f", a / b}')"
done
