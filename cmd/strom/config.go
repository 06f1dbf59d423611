package main

import (
	"bufio"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strombroker/strom/internal/server"
	"github.com/strombroker/strom/storage"
)

// setting is one broker setting reachable as a flag, an environment variable
// STROM_<FLAG> and one or more server.properties keys. All three fill the same
// server.Config; precedence is defaults < properties file < env < flags.
type setting struct {
	flag  string   // flag name, also the env var (STROM_ + upper snake case)
	keys  []string // server.properties keys (first is the canonical one)
	usage string
	set   func(c *server.Config, v string) error
}

func envName(flag string) string {
	return "STROM_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func parseInt32(v string) (int32, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	return int32(n), err
}

func parseMs(v string, unit time.Duration) (time.Duration, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return -1, nil
	}
	return time.Duration(n) * unit, nil
}

// intSetter parses a 32-bit integer setting.
func intSetter(dst func(c *server.Config, n int)) func(*server.Config, string) error {
	return func(c *server.Config, v string) error {
		n, err := parseInt32(v)
		if err != nil {
			return err
		}
		dst(c, int(n))
		return nil
	}
}

func durSetter(unit time.Duration, dst func(c *server.Config) *time.Duration) func(*server.Config, string) error {
	return func(c *server.Config, v string) error {
		d, err := parseMs(v, unit)
		if err != nil {
			return err
		}
		*dst(c) = d
		return nil
	}
}

// positiveDur is durSetter for settings where zero or a negative value has
// no meaning (a ticker period, a timeout): they are refused instead of
// silently turning into "forever" or a panic at startup.
func positiveDur(unit time.Duration, dst func(c *server.Config) *time.Duration) func(*server.Config, string) error {
	return func(c *server.Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return err
		}
		if n <= 0 {
			return fmt.Errorf("must be > 0, got %d", n)
		}
		*dst(c) = time.Duration(n) * unit
		return nil
	}
}

// settings is applied in this order within each source, so where Kafka has
// several units for one setting the finest is listed last and wins, as in
// Kafka (log.retention.ms over .minutes over .hours). Flags are visited in
// lexical order, which gives the same result.
var settings = slices.Concat(coreSettings, securitySettings, saslSettings, cleanerSettings)

// coreSettings are the broker's settings other than security's.
var coreSettings = []setting{
	{"node-id", []string{"node.id", "broker.id"}, "this broker's id (unique in the cluster)", func(c *server.Config, v string) error {
		if strings.TrimSpace(v) == ordinalNodeID {
			return setNodeIDFromHostname(c)
		}
		n, err := parseInt32(v)
		c.NodeID = n
		return err
	}},
	{"listen", []string{"listeners"}, "where to accept Kafka clients: host:port or NAME://host:port,... (0.0.0.0 = all interfaces)", func(c *server.Config, v string) error {
		ls, err := server.ParseListeners(v)
		c.Listeners = ls
		return err
	}},
	{"advertise", []string{"advertised.listeners"}, "address(es) clients are told to connect to: host:port or NAME://host:port,... (defaults to --listen)", func(c *server.Config, v string) error {
		ls, err := server.ParseListeners(v)
		c.AdvertisedListeners = ls
		return err
	}},
	{"data-dir", []string{"log.dirs", "log.dir"}, "directory for partition logs and metadata", func(c *server.Config, v string) error {
		c.DataDir = strings.TrimSpace(strings.Split(v, ",")[0])
		return nil
	}},
	{"raft-addr", []string{"raft.addr"}, "host:port of the controller (Raft) transport", func(c *server.Config, v string) error {
		c.RaftAddr = v
		return nil
	}},
	{"gossip-addr", []string{"gossip.addr"}, "host:port for cluster membership gossip", func(c *server.Config, v string) error {
		c.GossipAddr = v
		return nil
	}},
	{"cluster-keys", []string{"cluster.keys"}, "comma-separated base64 AES keys (16, 24 or 32 bytes) the brokers share: they encrypt gossip and authenticate the Raft port; the first is this broker's, all are accepted (rotate by rolling restarts). Prefer the env var or a properties file: flags show in ps", func(c *server.Config, v string) error {
		c.ClusterKeys = nil
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k == "" {
				continue
			}
			b, err := base64.StdEncoding.DecodeString(k)
			if err != nil {
				return fmt.Errorf("a cluster key is not base64: %v", err)
			}
			if n := len(b); n != 16 && n != 24 && n != 32 {
				return fmt.Errorf("a cluster key is %d bytes, want 16, 24 or 32 (e.g. head -c 32 /dev/urandom | base64)", n)
			}
			c.ClusterKeys = append(c.ClusterKeys, b)
		}
		return nil
	}},
	{"raft-advertise", []string{"raft.advertise"}, "host:port other brokers dial for Raft (needed when --raft-addr binds 0.0.0.0; a name such as the container hostname is fine)", func(c *server.Config, v string) error {
		c.RaftAdvertise = strings.TrimSpace(v)
		return nil
	}},
	{"gossip-advertise", []string{"gossip.advertise"}, "host:port other brokers gossip to (a name is resolved; default with --gossip-addr 0.0.0.0: this hostname's address)", func(c *server.Config, v string) error {
		c.GossipAdvertise = strings.TrimSpace(v)
		return nil
	}},
	{"inter-broker-listener", []string{"inter.broker.listener.name"}, "name of the listener brokers replicate over (default: the first listener)", func(c *server.Config, v string) error {
		c.InterBrokerListenerName = strings.ToUpper(strings.TrimSpace(v))
		return nil
	}},
	{"join", []string{"join"}, "comma-separated gossip addresses of brokers to join", func(c *server.Config, v string) error {
		c.Join = nil
		for _, j := range strings.Split(v, ",") {
			if j = strings.TrimSpace(j); j != "" {
				c.Join = append(c.Join, j)
			}
		}
		return nil
	}},
	{"bootstrap-expect", []string{"bootstrap.expect"}, "number of brokers that form the initial controller quorum", func(c *server.Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		c.BootstrapExpect = n
		return err
	}},
	{"rack", []string{"broker.rack"}, "rack (failure domain) of this broker", func(c *server.Config, v string) error {
		c.Rack = v
		return nil
	}},
	{"num-partitions", []string{"num.partitions"}, "partitions of auto-created topics", func(c *server.Config, v string) error {
		n, err := parseInt32(v)
		c.NumPartitions = n
		return err
	}},
	{"default-replication-factor", []string{"default.replication.factor"}, "replication factor of auto-created topics", func(c *server.Config, v string) error {
		n, err := parseInt32(v)
		c.DefaultReplicationFactor = int16(n)
		return err
	}},
	{"min-insync-replicas", []string{"min.insync.replicas"}, "acks=all needs this many in-sync replicas", func(c *server.Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		c.MinInsyncReplicas = n
		return err
	}},
	{"auto-create-topics", []string{"auto.create.topics.enable"}, "create unknown topics on Metadata requests", func(c *server.Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		c.AutoCreateTopics = b
		return err
	}},
	{"log-retention-hours", []string{"log.retention.hours"}, "retention in hours", durSetter(time.Hour, func(c *server.Config) *time.Duration { return &c.Log.RetentionMs })},
	{"log-retention-minutes", []string{"log.retention.minutes"}, "retention in minutes", durSetter(time.Minute, func(c *server.Config) *time.Duration { return &c.Log.RetentionMs })},
	{"log-retention-ms", []string{"log.retention.ms"}, "delete segments older than this (-1 = forever)", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.Log.RetentionMs })},
	{"log-retention-bytes", []string{"log.retention.bytes"}, "per-partition size limit (-1 = none)", func(c *server.Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		c.Log.RetentionBytes = n
		return err
	}},
	{"log-segment-bytes", []string{"log.segment.bytes"}, "roll segment files at this size", func(c *server.Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		c.Log.SegmentBytes = n
		return err
	}},
	{"log-roll-hours", []string{"log.roll.hours"}, "roll segment files after this many hours", durSetter(time.Hour, func(c *server.Config) *time.Duration { return &c.Log.SegmentMs })},
	{"log-roll-ms", []string{"log.roll.ms"}, "roll segment files after this long", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.Log.SegmentMs })},
	{"log-fsync", []string{"log.fsync"}, "when to fsync: always (before acking, group commit), interval, never", func(c *server.Config, v string) error {
		c.Log.Fsync = storage.FsyncPolicy(strings.TrimSpace(v))
		return nil
	}},
	{"log-flush-interval-ms", []string{"log.flush.interval.ms"}, "fsync period with log.fsync=interval", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.Log.FlushInterval })},
	{"message-max-bytes", []string{"message.max.bytes"}, "largest record batch accepted", func(c *server.Config, v string) error {
		n, err := parseInt32(v)
		c.MessageMaxBytes = n
		c.Log.MaxMessageBytes = n
		return err
	}},
	{"socket-request-max-bytes", []string{"socket.request.max.bytes"}, "largest request accepted", func(c *server.Config, v string) error {
		n, err := parseInt32(v)
		c.SocketRequestMaxBytes = n
		return err
	}},
	{"fetch-max-bytes", []string{"fetch.max.bytes"}, "most record bytes in one Fetch response", intSetter(func(c *server.Config, n int) { c.FetchMaxBytes = int32(n) })},
	{"telemetry-max-bytes", []string{"telemetry.max.bytes"}, "largest KIP-714 client telemetry push accepted, in bytes", intSetter(func(c *server.Config, n int) { c.TelemetryMaxBytes = int32(min(n, 1<<31-1)) })},
	{"max-incremental-fetch-session-cache-slots", []string{"max.incremental.fetch.session.cache.slots"}, "most incremental fetch sessions (KIP-227) kept; 0 = none", intSetter(func(c *server.Config, n int) { c.FetchSessionCacheSlots = n })},
	{"log-max-open-files", []string{"log.max.open.files"}, "segment and index file descriptors held open at most, over all partitions; idle ones are closed and reopened on use (0: 3/4 of RLIMIT_NOFILE)", intSetter(func(c *server.Config, n int) { c.LogMaxOpenFiles = n })},
	{"max-connections", []string{"max.connections"}, "connections accepted per listener; more are closed at once", intSetter(func(c *server.Config, n int) { c.MaxConnections = n })},
	{"max-connections-per-ip", []string{"max.connections.per.ip"}, "connections accepted per listener from one IP address", intSetter(func(c *server.Config, n int) { c.MaxConnectionsPerIP = n })},
	{"max-connection-creation-rate", []string{"max.connection.creation.rate"}, "new connections accepted per second over all listeners but the inter-broker one; beyond it accepting waits (0: unlimited)", intSetter(func(c *server.Config, n int) { c.MaxConnectionCreationRate = n })},
	{"connections-max-idle-ms", []string{"connections.max.idle.ms"}, "close connections idle this long (-1 = never)", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.ConnectionsMaxIdle })},
	{"socket-write-timeout-ms", []string{"socket.write.timeout.ms"}, "close a connection whose client takes less than 1 MiB of response in this long (-1 = never)", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.SocketWriteTimeout })},
	{"auto-create-topics-max-per-request", []string{"auto.create.topics.max.per.request"}, "topics one Metadata request may auto-create; the rest get LEADER_NOT_AVAILABLE", intSetter(func(c *server.Config, n int) { c.AutoCreateTopicsMaxPerRequest = n })},
	{"group-max-size", []string{"group.max.size"}, "most members in one consumer group", intSetter(func(c *server.Config, n int) { c.GroupMaxSize = n })},
	{"group-consumer-max-size", []string{"group.consumer.max.size"}, "most members in one consumer-protocol (KIP-848) group", intSetter(func(c *server.Config, n int) { c.GroupConsumerMaxSize = n })},
	{"group-consumer-heartbeat-interval-ms", []string{"group.consumer.heartbeat.interval.ms"}, "heartbeat interval told to consumer-protocol members", positiveDur(time.Millisecond, func(c *server.Config) *time.Duration { return &c.GroupConsumerHeartbeatInterval })},
	{"group-consumer-session-timeout-ms", []string{"group.consumer.session.timeout.ms"}, "session timeout of consumer-protocol members", positiveDur(time.Millisecond, func(c *server.Config) *time.Duration { return &c.GroupConsumerSessionTimeout })},
	{"group-consumer-assignors", []string{"group.consumer.assignors"}, "server-side assignors of consumer-protocol groups, the first the default (uniform, range)", func(c *server.Config, v string) error {
		c.GroupConsumerAssignors = nil
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				c.GroupConsumerAssignors = append(c.GroupConsumerAssignors, a)
			}
		}
		return nil
	}},
	{"offsets-topic-num-partitions", []string{"offsets.topic.num.partitions"}, "partitions of __consumer_offsets (set before first start)", func(c *server.Config, v string) error {
		n, err := parseInt32(v)
		c.OffsetsTopicPartitions = n
		return err
	}},
	{"offsets-topic-replication-factor", []string{"offsets.topic.replication.factor"}, "replication factor of __consumer_offsets", func(c *server.Config, v string) error {
		n, err := parseInt32(v)
		c.OffsetsTopicReplicationFactor = int16(n)
		return err
	}},
	{"transaction-state-log-num-partitions", []string{"transaction.state.log.num.partitions"}, "partitions of __transaction_state (set before first use)", func(c *server.Config, v string) error {
		n, err := parseInt32(v)
		c.TransactionStateLogPartitions = n
		return err
	}},
	{"transaction-state-log-replication-factor", []string{"transaction.state.log.replication.factor"}, "replication factor of __transaction_state (capped at the live brokers)", intSetter(func(c *server.Config, n int) { c.TransactionStateLogReplicationFactor = int16(n) })},
	{"transaction-state-log-min-isr", []string{"transaction.state.log.min.isr"}, "min.insync.replicas of __transaction_state (capped at its replication factor)", intSetter(func(c *server.Config, n int) { c.TransactionStateLogMinISR = int16(n) })},
	{"transaction-max-timeout-ms", []string{"transaction.max.timeout.ms"}, "largest transaction.timeout.ms a producer may ask for", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.TransactionMaxTimeout })},
	{"transaction-abort-timed-out-transaction-cleanup-interval-ms", []string{"transaction.abort.timed.out.transaction.cleanup.interval.ms"}, "how often transactions past their timeout are aborted", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.TransactionAbortInterval })},
	{"transaction-version", []string{"transaction.version"}, "transaction protocol the brokers announce: 2 (KIP-890 part 2, an epoch bump per transaction) or 1 (classic)", intSetter(func(c *server.Config, n int) { c.TransactionVersion = int16(n) })},
	{"transactional-id-expiration-ms", []string{"transactional.id.expiration.ms"}, "forget a transactional id idle this long with no transaction open", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.TransactionalIDExpiration })},
	{"group-initial-rebalance-delay-ms", []string{"group.initial.rebalance.delay.ms"}, "wait for more members before the first rebalance of a new group", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.GroupInitialRebalanceDelay })},
	{"group-share-record-lock-duration-ms", []string{"group.share.record.lock.duration.ms"}, "share groups: how long a record acquired by a consumer stays locked to it", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.ShareRecordLockDuration })},
	{"group-share-delivery-count-limit", []string{"group.share.delivery.count.limit"}, "share groups: deliveries of a record before it is archived", intSetter(func(c *server.Config, n int) { c.ShareDeliveryCountLimit = int16(n) })},
	{"group-share-partition-max-record-locks", []string{"group.share.partition.max.record.locks"}, "share groups: most records in flight per share-partition", intSetter(func(c *server.Config, n int) { c.SharePartitionMaxRecordLocks = n })},
	{"group-share-heartbeat-interval-ms", []string{"group.share.heartbeat.interval.ms"}, "share groups: heartbeat interval given to members", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.ShareHeartbeatInterval })},
	{"group-share-session-timeout-ms", []string{"group.share.session.timeout.ms"}, "share groups: a member silent this long is removed", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.ShareSessionTimeout })},
	{"group-share-max-size", []string{"group.share.max.size"}, "share groups: most members in one share group", intSetter(func(c *server.Config, n int) { c.ShareGroupMaxSize = n })},
	{"share-auto-offset-reset", []string{"share.auto.offset.reset"}, "share groups: default of the group config share.auto.offset.reset, latest or earliest", func(c *server.Config, v string) error {
		c.ShareAutoOffsetReset = strings.TrimSpace(v)
		return nil
	}},
	{"share-coordinator-state-topic-num-partitions", []string{"share.coordinator.state.topic.num.partitions"}, "partitions of __share_group_state (set before first use)", intSetter(func(c *server.Config, n int) { c.ShareStateTopicPartitions = int32(n) })},
	{"share-coordinator-state-topic-replication-factor", []string{"share.coordinator.state.topic.replication.factor"}, "replication factor of __share_group_state (capped at the live brokers)", intSetter(func(c *server.Config, n int) { c.ShareStateTopicReplicationFactor = int16(n) })},
	{"share-coordinator-state-topic-min-isr", []string{"share.coordinator.state.topic.min.isr"}, "min.insync.replicas of __share_group_state (capped at its replication factor)", intSetter(func(c *server.Config, n int) { c.ShareStateTopicMinISR = int16(n) })},
	{"group-min-session-timeout-ms", []string{"group.min.session.timeout.ms"}, "smallest session timeout a consumer may ask for", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.GroupMinSessionTimeout })},
	{"group-max-session-timeout-ms", []string{"group.max.session.timeout.ms"}, "largest session timeout a consumer may ask for", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.GroupMaxSessionTimeout })},
	{"http-addr", []string{"http.addr"}, "serve Prometheus /metrics and the web console (/console/) on this host:port (off when empty)", func(c *server.Config, v string) error {
		c.HTTPAddr = strings.TrimSpace(v)
		return nil
	}},
	{"console-enable", []string{"console.enable"}, "serve the web console under /console/ on --http-addr", func(c *server.Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		c.ConsoleEnable = b
		return err
	}},
	{"console-write-enable", []string{"console.write.enable"}, "let the web console produce test records (off: the console is read-only)", func(c *server.Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		c.ConsoleWriteEnable = b
		return err
	}},
	{"console-client-config", []string{"console.client.config"}, "client properties file (security.protocol, sasl.*, ssl.*) the web console uses to talk to this broker's listener", func(c *server.Config, v string) error {
		c.ConsoleClientConfig = strings.TrimSpace(v)
		return nil
	}},
	{"metrics-partition-level-enable", []string{"metrics.partition.level.enable"}, "also export per-partition metrics series (log size and offsets, follower and group lag); off keeps series per topic", func(c *server.Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		c.MetricsPartitionLevel = b
		return err
	}},
	{"pprof-addr", []string{"pprof.addr"}, "serve the Go profiler /debug/pprof on this host:port, apart from metrics (off when empty; keep it on loopback)", func(c *server.Config, v string) error {
		c.PprofAddr = strings.TrimSpace(v)
		return nil
	}},
	{"replica-lag-time-max-ms", []string{"replica.lag.time.max.ms"}, "a follower not caught up for this long leaves the ISR", positiveDur(time.Millisecond, func(c *server.Config) *time.Duration { return &c.ReplicaLagTimeMax })},
	{"replica-fetch-wait-max-ms", []string{"replica.fetch.wait.max.ms"}, "longest a follower's fetch waits for new data", positiveDur(time.Millisecond, func(c *server.Config) *time.Duration { return &c.ReplicaFetchWaitMax })},
	{"auto-leader-rebalance-enable", []string{"auto.leader.rebalance.enable"}, "move leadership back to each partition's preferred replica once it is in sync", func(c *server.Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		c.AutoLeaderRebalance = b
		return err
	}},
	{"leader-imbalance-check-interval-seconds", []string{"leader.imbalance.check.interval.seconds"}, "how often the controller moves leadership back to preferred replicas", positiveDur(time.Second, func(c *server.Config) *time.Duration { return &c.LeaderRebalanceInterval })},
	{"cluster-tick-ms", []string{"cluster.tick.ms"}, "how often the cluster loop re-checks membership and partition leaders without a gossip event", positiveDur(time.Millisecond, func(c *server.Config) *time.Duration { return &c.ClusterTick })},
	{"fast-raft", []string{"raft.fast"}, "loopback-test Raft timers (a controller election 50 ms after the controller goes quiet); tests only, a busy host would see needless elections", func(c *server.Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		c.FastRaft = b
		return err
	}},
	{"controller-quorum-election-timeout-ms", []string{"controller.quorum.election.timeout.ms"}, "how long a broker hears nothing from the controller before calling an election (randomised up to twice that)", positiveDur(time.Millisecond, func(c *server.Config) *time.Duration { return &c.RaftElectionTimeout })},
	{"fast-gossip", []string{"gossip.fast"}, "tight loopback failure-detection timers (a dead broker noticed in about a second); tests only, a busy host would see false failures", func(c *server.Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		c.FastGossip = b
		return err
	}},
	{"log-retention-check-interval-ms", []string{"log.retention.check.interval.ms"}, "how often retention runs", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.RetentionCheckInterval })},
}

// readProperties parses a Java-style .properties file: key=value or key:value
// lines, # and ! comments, trailing-backslash continuations.
func readProperties(r io.Reader) (map[string]string, error) {
	out := make(map[string]string)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var pending string
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if pending != "" {
			line = pending + line
			pending = ""
		}
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending = strings.TrimSuffix(line, `\`)
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			return nil, fmt.Errorf("line %d: %q is not key=value", lineNo, line)
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out, sc.Err()
}

// loadConfig builds the broker configuration from defaults, an optional
// properties file, STROM_* environment variables and flags, in that order.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (server.Config, string, error) {
	cfg := server.DefaultConfig()
	fs := flag.NewFlagSet("strom broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", getenv("STROM_CONFIG"), "Kafka-style server.properties file (env STROM_CONFIG)")
	logLevel := fs.String("log-level", envOr(getenv, "STROM_LOG_LEVEL", "info"), "debug, info, warn or error (env STROM_LOG_LEVEL)")
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		vals[s.flag] = fs.String(s.flag, "", s.usage+" (env "+envName(s.flag)+", property "+strings.Join(s.keys, "/")+")")
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: strom broker [flags]\n\nRuns a Strom broker. With no flags: node 1, Kafka clients on 127.0.0.1:9092, data in ./data.\nEach flag can also be given as an environment variable or a server.properties key.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		return cfg, "", fmt.Errorf("unexpected argument %q (flags look like --node-id 2)", fs.Arg(0))
	}

	if *configFile != "" {
		if err := applyProperties(&cfg, *configFile, stderr); err != nil {
			return cfg, "", err
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, "", err
	}
	var ferr error
	fs.Visit(func(f *flag.Flag) {
		for _, s := range settings {
			if s.flag == f.Name && ferr == nil {
				if err := s.set(&cfg, *vals[s.flag]); err != nil {
					ferr = fmt.Errorf("--%s=%s: %w", s.flag, *vals[s.flag], err)
				}
			}
		}
	})
	if ferr != nil {
		return cfg, "", ferr
	}
	// A bare --advertise host:port names the PLAINTEXT listener; when the
	// single listener has another name, give it that name.
	if len(cfg.Listeners) == 1 && len(cfg.AdvertisedListeners) == 1 && cfg.AdvertisedListeners[0].Name != cfg.Listeners[0].Name && cfg.AdvertisedListeners[0].Name == "PLAINTEXT" {
		cfg.AdvertisedListeners[0].Name = cfg.Listeners[0].Name
	}
	if err := cfg.Validate(); err != nil {
		return cfg, "", err
	}
	return cfg, *logLevel, nil
}

// applyProperties sets on cfg every setting the server.properties file at
// path names, under any of the setting's keys. Keys Strom does not know are
// warned about on stderr and ignored, so an existing Kafka file can be used
// as it is.
func applyProperties(cfg *server.Config, path string, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	props, err := readProperties(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	known := map[string]bool{}
	for _, s := range settings {
		for _, k := range s.keys {
			known[k] = true
			if v, ok := props[k]; ok {
				if err := s.set(cfg, v); err != nil {
					return fmt.Errorf("%s: %s=%s: %w", path, k, v, err)
				}
			}
		}
	}
	for k := range props {
		if ok, err := applyListenerProperty(cfg, k, props[k]); ok {
			if err != nil {
				return fmt.Errorf("%s: %s: %w", path, k, err)
			}
			continue
		}
		if !known[k] && !cfg.SetListenerSSL(k, props[k]) { // listener.name.<name>.ssl.*
			fmt.Fprintf(stderr, "warning: %s: %s is not used by Strom and is ignored\n", path, k)
		}
	}
	return nil
}

// applyEnv sets on cfg every setting whose STROM_* variable is non-empty.
func applyEnv(cfg *server.Config, getenv func(string) string) error {
	for _, s := range settings {
		if v := getenv(envName(s.flag)); v != "" {
			if err := s.set(cfg, v); err != nil {
				return fmt.Errorf("%s=%s: %w", envName(s.flag), v, err)
			}
		}
	}
	return nil
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}
