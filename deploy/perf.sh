#!/usr/bin/env bash
# The cluster performance comparison the README's Performance section
# quotes: one broker (RF 1) against three (RF 3) on this machine, alternating
# so that both see the same background load, medians over the runs.
#
#   make build && deploy/perf.sh            # 3 alternating runs
#   RUNS=5 RECORDS=3000000 deploy/perf.sh   # more of each
#   STROM_BROKER_BIN=/tmp/strom-old deploy/perf.sh  # brokers of another build
#   LOG_FSYNC=never deploy/perf.sh          # brokers with --log-fsync never (Kafka's default)
#
# Per run and setup it starts fresh brokers in a temp dir, creates fresh
# topics (1 and 6 partitions), then measures with `strom bench produce`
# (franz-go, 100-byte records, linger 0):
#   - throughput at acks=1 and acks=all, as fast as it goes (RECORDS each);
#   - produce latency at a fixed 5 000 records/s, acks=all (E2E_RECORDS each):
#     produce → acknowledgement per record, p50 and p99;
#   - before each setup, the machine's CPU cost of writing page cache
#     (write_cost below), which drifts on a VM and moves every other figure.
# Prints one line per measurement and a table of medians at the end; raw
# JSON lines go to $OUT (default: a temp file, named at the end).
set -euo pipefail

BIN=${STROM_BIN:-bin/strom}
BROKER_BIN=${STROM_BROKER_BIN:-$BIN} # brokers of another build, same client: before/after
RUNS=${RUNS:-3}
RECORDS=${RECORDS:-2000000}
E2E_RECORDS=${E2E_RECORDS:-30000}
E2E_RATE=${E2E_RATE:-5000}
LOG_FSYNC=${LOG_FSYNC:-} # empty: the broker's default (interval)
DIR=$(mktemp -d /tmp/strom-perf.XXXXXX)
OUT=${OUT:-$DIR/results.jsonl}
PIDS=()

log() { printf 'perf: %s\n' "$*" >&2; }

stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}
trap 'stop_all; rm -rf "$DIR/run"' EXIT

# start N: N brokers (1 or 3) on 127.0.0.1:29N92 (Kafka), 29N93 (Raft) and
# 29N94 (gossip), data under $DIR/run. The ports lie below Linux's ephemeral
# range (32768-60999), where an outgoing connection's local port could take
# one first and keep a broker from starting.
start() {
	local n=$1 id join="" seeds=""
	rm -rf "$DIR/run"
	for id in $(seq 1 "$n"); do
		join+="${join:+,}127.0.0.1:$((29094 + id * 100))"
		seeds+="${seeds:+,}127.0.0.1:$((29092 + id * 100))"
	done
	for id in $(seq 1 "$n"); do
		local k=$((29092 + id * 100)) args=()
		if [ -n "$LOG_FSYNC" ]; then
			args+=(--log-fsync "$LOG_FSYNC")
		fi
		if [ "$n" -gt 1 ]; then
			args+=(--raft-addr "127.0.0.1:$((k + 1))" --gossip-addr "127.0.0.1:$((k + 2))" --join "$join" --bootstrap-expect "$n")
		fi
		mkdir -p "$DIR/run/b$id"
		"$BROKER_BIN" broker --node-id "$id" --listen "127.0.0.1:$k" --data-dir "$DIR/run/b$id" "${args[@]}" >"$DIR/run/b$id.log" 2>&1 &
		PIDS+=($!)
	done
	BROKERS=$seeds
	local i
	for i in $(seq 1 120); do
		if [ "$("$BIN" cluster status --brokers "$BROKERS" 2>/dev/null | grep -c ' alive')" -ge "$n" ]; then
			return 0
		fi
		sleep 0.5
	done
	mkdir -p "$DIR/failed" && cp "$DIR"/run/*.log "$DIR/failed/"
	log "brokers did not come up; logs in $DIR/failed"
	exit 1
}

# write_cost SETUP: CPU seconds spent writing 1 GiB of fresh page cache
# (256 KiB pwrites, no fsync), appended to $OUT. Bare metal takes about
# 0.15 s. A VM that hands freed memory back to its host (virtio-balloon free
# page reporting) can take ten times that while the host faults the pages
# back in, and every byte a broker writes pays the same: three times over
# with RF 3. This development VM measured 0.14 s on warm pages and 1.5-2.2 s
# per GiB beyond them, so compare runs with their write cost in view.
write_cost() {
	local secs
	secs=$(python3 - "$DIR/probe" <<'PY'
import os, resource, sys
buf = b"\0" * (256 << 10)
r0 = resource.getrusage(resource.RUSAGE_SELF)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
for i in range(4096):
    os.pwrite(fd, buf, i * len(buf))
os.close(fd)
r1 = resource.getrusage(resource.RUSAGE_SELF)
os.remove(sys.argv[1])
print("%.2f" % (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime))
PY
)
	echo "{\"setup\":\"$1\",\"mode\":\"write_cost\",\"partitions\":0,\"acks\":\"\",\"result\":{\"cpu_s_per_gib\":$secs}}" >>"$OUT"
	log "$1 write cost: $secs s CPU per GiB of fresh page cache"
}

# settle_disk: wait (up to a minute) until 20 fsyncs in a row each take
# under 10 ms. Deleting a setup's gigabytes on this VM's disk (ext4 mounted
# with online discard) makes fsyncs answer 80-110 ms late for about 12 s
# while the host trims, and the next setup's first acks=all latency run
# measured that: p99 of 80-140 ms instead of 4-7 ms.
settle_disk() {
	python3 - "$DIR/settle" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
began, calm = time.time(), 0
while calm < 20 and time.time() - began < 60:
    t = time.time()
    os.pwrite(fd, b"x" * 4096, 0)
    os.fsync(fd)
    calm = calm + 1 if time.time() - t < 0.010 else 0
    time.sleep(0.05)
os.close(fd)
os.remove(sys.argv[1])
PY
}

# bench SETUP RF PARTS ACKS MODE: one measurement, appended to $OUT.
bench() {
	local setup=$1 rf=$2 parts=$3 acks=$4 mode=$5
	local topic="t-$mode-$acks-$parts" extra=()
	"$BIN" topic create "$topic" --partitions "$parts" --replication-factor "$rf" --brokers "$BROKERS" >/dev/null
	if [ "$mode" = e2e ]; then
		extra=(--records "$E2E_RECORDS" --throughput "$E2E_RATE")
	else
		extra=(--records "$RECORDS")
	fi
	local json
	json=$("$BIN" bench produce --brokers "$BROKERS" --topic "$topic" --acks "$acks" --progress 0 --json "${extra[@]}" | tr -d '\n')
	echo "{\"setup\":\"$setup\",\"mode\":\"$mode\",\"partitions\":$parts,\"acks\":\"$acks\",\"result\":$json}" >>"$OUT"
	log "$setup $mode acks=$acks partitions=$parts: $(echo "$json" | sed -E 's/.*"records_per_sec": *([0-9.]+).*"p50": *([0-9.]+).*"p99": *([0-9.]+).*/\1 rec\/s, p50 \2 ms, p99 \3 ms/')"
}

for run in $(seq 1 "$RUNS"); do
	log "run $run of $RUNS"
	for setup in single cluster; do
		write_cost $setup
		if [ $setup = single ]; then start 1; rf=1; else start 3; rf=3; fi
		# Latency first: a throughput run leaves hundreds of MB of dirty
		# pages that the interval flush then writes while the next
		# measurement runs.
		for parts in 1 6; do bench $setup $rf $parts all e2e; done
		for parts in 1 6; do
			bench $setup $rf $parts 1 throughput
			bench $setup $rf $parts all throughput
		done
		stop_all
		# The throughput runs leave gigabytes written; let the disk finish
		# them (and trim them once deleted) before the next setup starts,
		# or its first measurement pays for this one's writeback.
		rm -rf "$DIR/run"
		sync
		settle_disk
	done
done

python3 - "$OUT" <<'EOF'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    res = r["result"][0] if isinstance(r["result"], list) else r["result"]
    key = (r["setup"], r["mode"], r["acks"], r["partitions"])
    rows.setdefault(key, []).append(res)
def med(rs, f): return statistics.median(f(x) for x in rs)
print("| setup | measure | acks | partitions | median | runs |")
print("|---|---|---|---|---|---|")
for key in sorted(rows):
    rs = rows[key]
    setup, mode, acks, parts = key
    if mode == "write_cost":
        runs = " / ".join("%.2f s" % x["cpu_s_per_gib"] for x in rs)
        print("| %s | CPU per GiB written (write_cost) | | | %.2f s | %s |" % (setup, med(rs, lambda x: x["cpu_s_per_gib"]), runs))
    elif mode == "throughput":
        runs = " / ".join("%.2f M" % (x["records_per_sec"] / 1e6) for x in rs)
        print("| %s | rec/s | %s | %d | %.2f M | %s |" % (setup, acks, parts, med(rs, lambda x: x["records_per_sec"]) / 1e6, runs))
    else:
        runs = " / ".join("%.1f/%.1f" % (x["latency_ms"]["p50"], x["latency_ms"]["p99"]) for x in rs)
        print("| %s | p50/p99 ms at %s rec/s | %s | %d | %.1f / %.1f | %s |" % (setup, "rate", acks, parts,
              med(rs, lambda x: x["latency_ms"]["p50"]), med(rs, lambda x: x["latency_ms"]["p99"]), runs))
EOF
log "raw results: $OUT"
