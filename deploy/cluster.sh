#!/usr/bin/env bash
# A local 3-broker Strom cluster on 127.0.0.1, for trying replication and
# failover by hand. Run it through `make cluster` (which builds bin/strom
# first) or directly after `make build`:
#
#   deploy/cluster.sh            start, wait until all 3 brokers are alive, stay
#                                in the foreground; Ctrl-C / SIGTERM stops them
#   deploy/cluster.sh --detach   start, wait, then leave the brokers running
#   deploy/cluster.sh --stop     stop brokers started with --detach (make cluster-stop)
#
# Broker N (1..3) uses Kafka port 9N92-ish: 9092/9192/9292, Raft 9093/9193/9293,
# gossip 9094/9194/9294, data dir ./data/cluster/broker-N, log
# ./data/cluster/broker-N.log and, with --detach, pid file ./data/cluster/broker-N.pid.
# The script builds nothing; STROM_BIN overrides the binary (default bin/strom).
set -euo pipefail

BIN=${STROM_BIN:-bin/strom}
DIR=${STROM_CLUSTER_DIR:-./data/cluster}
HOST=127.0.0.1
IDS=(1 2 3)
WAIT_SECS=${STROM_CLUSTER_WAIT:-60}   # how long to wait for 3 live brokers
STOP_SECS=30                          # how long a broker gets to shut down

kafka_port()  { echo $((9092 + ($1 - 1) * 100)); }
raft_port()   { echo $((9093 + ($1 - 1) * 100)); }
gossip_port() { echo $((9094 + ($1 - 1) * 100)); }
pidfile()     { echo "$DIR/broker-$1.pid"; }

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

all_kafka() {
	local out="" id
	for id in "${IDS[@]}"; do out+="${out:+,}$HOST:$(kafka_port "$id")"; done
	echo "$out"
}

all_gossip() {
	local out="" id
	for id in "${IDS[@]}"; do out+="${out:+,}$HOST:$(gossip_port "$id")"; done
	echo "$out"
}

alive() { kill -0 "$1" 2>/dev/null; }

# stop_pid sends SIGTERM (a graceful shutdown: leave gossip, close logs) and
# waits; only if the broker outlives STOP_SECS does it get SIGKILL.
stop_pid() {
	local id=$1 pid=$2 i
	alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < STOP_SECS * 10; i++)); do
		alive "$pid" || { log "broker $id (pid $pid) stopped"; return 0; }
		sleep 0.1
	done
	log "broker $id (pid $pid) did not stop within ${STOP_SECS}s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
}

# stop_all stops the given "id:pid" pairs concurrently and waits for all.
stop_all() {
	local pair jobs=()
	for pair in "$@"; do
		stop_pid "${pair%%:*}" "${pair#*:}" &
		jobs+=($!)
	done
	for pair in "${jobs[@]}"; do wait "$pair" || true; done
}

# detached_pairs reads the pid files of a detached cluster, skipping (and
# removing) stale ones whose process is gone.
detached_pairs() {
	local id pid pf
	for id in "${IDS[@]}"; do
		pf=$(pidfile "$id")
		[[ -f $pf ]] || continue
		pid=$(<"$pf")
		if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; then
			echo "$id:$pid"
		else
			rm -f "$pf"
		fi
	done
}

cmd_stop() {
	local pairs
	mapfile -t pairs < <(detached_pairs)
	if ((${#pairs[@]} == 0)); then
		log "no detached brokers running (no live pid files in $DIR)"
		return 0
	fi
	stop_all "${pairs[@]}"
	local id
	for id in "${IDS[@]}"; do rm -f "$(pidfile "$id")"; done
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

preflight() {
	[[ -x $BIN ]] || die "$BIN not found — run \`make build\` first (or use \`make cluster\`)"
	local pairs id port
	mapfile -t pairs < <(detached_pairs)
	((${#pairs[@]} == 0)) || die "a detached cluster is already running (${pairs[*]}) — stop it with \`make cluster-stop\`"
	for id in "${IDS[@]}"; do
		for port in "$(kafka_port "$id")" "$(raft_port "$id")" "$(gossip_port "$id")"; do
			if port_busy "$port"; then
				die "port $HOST:$port is already in use — stop whatever listens there (another strom?) first"
			fi
		done
	done
}

PAIRS=()

start_brokers() {
	local detach=$1 id pid join
	join=$(all_gossip)
	mkdir -p "$DIR"
	for id in "${IDS[@]}"; do
		mkdir -p "$DIR/broker-$id"
		# nohup: a detached broker must outlive the terminal that started it.
		nohup "$BIN" broker \
			--node-id "$id" \
			--listen "$HOST:$(kafka_port "$id")" \
			--raft-addr "$HOST:$(raft_port "$id")" \
			--gossip-addr "$HOST:$(gossip_port "$id")" \
			--join "$join" \
			--bootstrap-expect 3 \
			--data-dir "$DIR/broker-$id" \
			>>"$DIR/broker-$id.log" 2>&1 </dev/null &
		pid=$!
		PAIRS+=("$id:$pid")
		if [[ $detach == 1 ]]; then echo "$pid" >"$(pidfile "$id")"; fi
		log "started broker $id (pid $pid), log $DIR/broker-$id.log"
	done
}

# wait_ready polls `strom cluster status` until 3 brokers are alive, failing
# early if a broker process exits.
wait_ready() {
	local deadline=$((SECONDS + WAIT_SECS)) pair
	while ((SECONDS < deadline)); do
		for pair in "${PAIRS[@]}"; do
			if ! alive "${pair#*:}"; then
				log "broker ${pair%%:*} exited during startup; last lines of its log:"
				tail -n 20 "$DIR/broker-${pair%%:*}.log" >&2 || true
				return 1
			fi
		done
		if "$BIN" cluster status --brokers "$(all_kafka)" --timeout 2s --expect-brokers 3 >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	log "the cluster did not show 3 live brokers within ${WAIT_SECS}s; see the logs in $DIR"
	return 1
}

print_usage() {
	local brokers id
	brokers=$(all_kafka)
	"$BIN" cluster status --brokers "$brokers" || true
	cat <<EOF

Strom cluster of 3 brokers is up.
EOF
	for id in "${IDS[@]}"; do
		printf '  broker %s  kafka %s:%s  raft %s:%s  gossip %s:%s  data %s/broker-%s\n' \
			"$id" "$HOST" "$(kafka_port "$id")" "$HOST" "$(raft_port "$id")" "$HOST" "$(gossip_port "$id")" "$DIR" "$id"
	done
	cat <<EOF

Use it:
  export STROM_BROKERS=$brokers
  $BIN cluster status
  $BIN topic create orders --partitions 3 --replication-factor 3
  echo hello | kcat -b $brokers -t orders -P
  kcat -b $brokers -t orders -C -o beginning -e
EOF
}

main() {
	local detach=0
	case "${1:-}" in
	"") ;;
	--detach) detach=1 ;;
	--stop) cmd_stop; return ;;
	-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; return ;;
	*) die "unknown argument $1 — use --detach, --stop or nothing" ;;
	esac

	preflight
	if [[ $detach == 0 ]]; then
		# Foreground: Ctrl-C or SIGTERM stops all three gracefully.
		trap 'log "stopping"; stop_all "${PAIRS[@]}"; exit 0' INT TERM
	fi
	start_brokers "$detach"
	if ! wait_ready; then
		log "stopping the brokers that started"
		stop_all "${PAIRS[@]}"
		if [[ $detach == 1 ]]; then for pair in "${PAIRS[@]}"; do rm -f "$(pidfile "${pair%%:*}")"; done; fi
		exit 1
	fi
	print_usage
	if [[ $detach == 1 ]]; then
		echo "  make cluster-stop            # stop the brokers (pid files in $DIR)"
		return
	fi
	echo "  Ctrl-C                       # stop the brokers"
	# wait -n returns when a broker exits by itself (or a trapped signal
	# arrives, and the trap exits): stop the others then.
	local pids=() pair
	for pair in "${PAIRS[@]}"; do pids+=("${pair#*:}"); done
	wait -n "${pids[@]}" || true
	for pair in "${PAIRS[@]}"; do
		alive "${pair#*:}" || log "broker ${pair%%:*} exited; see $DIR/broker-${pair%%:*}.log"
	done
	log "stopping the remaining brokers"
	stop_all "${PAIRS[@]}"
	exit 1
}

main "$@"
