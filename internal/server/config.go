package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/storage"
	"github.com/strombroker/strom/wire"
)

// Listener is one named endpoint (listeners / advertised.listeners entry).
type Listener struct {
	Name string // PLAINTEXT unless named
	Host string // empty or 0.0.0.0 / :: means every interface when listening
	Port int
}

// Addr returns host:port.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

func (l Listener) String() string { return l.Name + "://" + l.Addr() }

// Config is the broker configuration. Flags, STROM_* environment variables and
// server.properties all fill this one struct (see cmd/strom).
type Config struct {
	NodeID              int32
	Listeners           []Listener // where to listen
	AdvertisedListeners []Listener // what clients are told; derived from Listeners when empty
	DataDir             string
	RaftAddr            string
	GossipAddr          string
	Join                []string
	BootstrapExpect     int
	Rack                string

	NumPartitions            int32
	DefaultReplicationFactor int16
	MinInsyncReplicas        int
	AutoCreateTopics         bool

	// Log holds the broker-wide log defaults (log.segment.bytes, retention, fsync...).
	Log                    storage.Config
	MessageMaxBytes        int32 // message.max.bytes
	SocketRequestMaxBytes  int32 // socket.request.max.bytes
	RetentionCheckInterval time.Duration
	// Cleaner is the log cleaner's settings (log.cleaner.*; the per-topic
	// defaults such as log.cleaner.min.cleanable.ratio are in Log). The
	// zero value is Kafka's defaults.
	Cleaner storage.CleanerConfig

	// FetchMaxBytes is fetch.max.bytes: the most record bytes one Fetch
	// response carries (a request's MaxBytes is capped at it; KIP-74's
	// first batch may still exceed it).
	FetchMaxBytes int32
	// FetchSessionCacheSlots is max.incremental.fetch.session.cache.slots:
	// the most incremental fetch sessions (KIP-227) kept at once; 0 turns
	// sessions off (every Fetch is answered in full).
	FetchSessionCacheSlots int
	// TelemetryMaxBytes is telemetry.max.bytes: the largest PushTelemetry
	// payload (KIP-714) accepted, compressed; 1 MiB as in Kafka.
	TelemetryMaxBytes int32
	// LogMaxOpenFiles is Strom's log.max.open.files: the descriptors the
	// segment and index files of all partitions hold open at most (idle
	// ones are closed and reopened on use; replica.Config.MaxOpenFiles).
	// 0: three quarters of the process's RLIMIT_NOFILE.
	LogMaxOpenFiles int
	// MaxConnections is max.connections: connections beyond this many
	// (per listener) are closed as soon as they are accepted.
	MaxConnections int
	// MaxConnectionsPerIP is max.connections.per.ip, likewise per remote IP.
	MaxConnectionsPerIP int
	// MaxConnectionCreationRate is max.connection.creation.rate: new
	// connections accepted per second over all listeners but the
	// inter-broker one; beyond it, accepting waits (connquota.go). 0 or
	// less: unlimited (Kafka's default, Int.MaxValue).
	MaxConnectionCreationRate int
	// ConnectionsMaxIdle is connections.max.idle.ms: a connection with no
	// request in progress and no traffic for this long is closed; negative
	// means never.
	ConnectionsMaxIdle time.Duration
	// SocketWriteTimeout bounds a client that stops reading: a response
	// must go out at no less than 1 MiB per this long, or the connection is
	// closed (socket.write.timeout.ms, Strom's own; negative means never).
	SocketWriteTimeout time.Duration
	// AutoCreateTopicsMaxPerRequest caps the topics one Metadata request
	// may auto-create (auto.create.topics.max.per.request, Strom's own);
	// the rest are answered LEADER_NOT_AVAILABLE and created on a retry.
	AutoCreateTopicsMaxPerRequest int

	OffsetsTopicPartitions int32
	// OffsetsTopicSegmentBytes is offsets.topic.segment.bytes: the segment
	// size __consumer_offsets is created with (its active segment is never
	// compacted, so this bounds what a busy group's commits cost on disk).
	// Zero is Kafka's default, 100 MiB.
	OffsetsTopicSegmentBytes      int64
	OffsetsTopicReplicationFactor int16
	// Transactions (Kafka's names): transaction.state.log.num.partitions,
	// .replication.factor (capped at the live brokers when the topic is
	// created) and .min.isr (capped at that factor);
	// transaction.max.timeout.ms, the largest transaction.timeout.ms a
	// producer may ask for; and
	// transaction.abort.timed.out.transaction.cleanup.interval.ms, how
	// often expired transactions are aborted. Zero takes Kafka's default
	// (txnDefaults).
	TransactionStateLogPartitions        int32
	TransactionStateLogReplicationFactor int16
	TransactionStateLogMinISR            int16
	TransactionMaxTimeout                time.Duration
	TransactionAbortInterval             time.Duration
	// TransactionalIDExpiration is transactional.id.expiration.ms: an id
	// idle this long with no transaction open is forgotten.
	TransactionalIDExpiration time.Duration
	// TransactionVersion is the transaction.version feature the brokers
	// announce (Kafka sets it with kafka-features; Strom's own setting):
	// 2 lets clients use transaction version 2 (KIP-890 part 2), 1 keeps
	// them on the classic protocol. The server honours both either way.
	TransactionVersion int16
	// Share groups (KIP-932, Kafka's names; zero takes Kafka's default,
	// shareDefaults): group.share.record.lock.duration.ms (acquisition
	// lock), group.share.delivery.count.limit (deliveries before a record
	// is archived), group.share.partition.max.record.locks (records in
	// flight per share-partition), group.share.heartbeat.interval.ms,
	// group.share.session.timeout.ms, group.share.max.size, and the share
	// coordinator's share.coordinator.state.topic.num.partitions,
	// .replication.factor and .min.isr for __share_group_state.
	ShareRecordLockDuration          time.Duration
	ShareDeliveryCountLimit          int16
	SharePartitionMaxRecordLocks     int
	ShareHeartbeatInterval           time.Duration
	ShareSessionTimeout              time.Duration
	ShareGroupMaxSize                int
	ShareStateTopicPartitions        int32
	ShareStateTopicReplicationFactor int16
	ShareStateTopicMinISR            int16
	// ShareAutoOffsetReset is where a share-partition starts when it is
	// first used, "latest" (Kafka's default) or "earliest", for groups
	// without their own share.auto.offset.reset group config
	// (groupconfigs.go).
	ShareAutoOffsetReset       string
	GroupInitialRebalanceDelay time.Duration
	GroupMinSessionTimeout     time.Duration
	GroupMaxSessionTimeout     time.Duration
	// GroupMaxSize is group.max.size: JoinGroup beyond this many members
	// is refused with GROUP_MAX_SIZE_REACHED.
	GroupMaxSize int
	// Consumer-protocol (KIP-848) groups:
	// group.consumer.heartbeat.interval.ms (5s) is the interval members
	// are told to heartbeat at, group.consumer.session.timeout.ms (45s)
	// how long one may go without, group.consumer.max.size the most
	// members of one group, group.consumer.assignors the server-side
	// assignors offered ("uniform", "range"; the first is the default).
	GroupConsumerHeartbeatInterval time.Duration
	GroupConsumerSessionTimeout    time.Duration
	GroupConsumerMaxSize           int
	GroupConsumerAssignors         []string

	// InterBrokerListenerName names the listener brokers use to reach each
	// other (inter.broker.listener.name); empty means the first listener.
	InterBrokerListenerName string
	// ListenerSecurityProtocols is listener.security.protocol.map: listener
	// name → PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. See
	// SecurityProtocol for names it leaves out.
	ListenerSecurityProtocols map[string]string
	// SSL is the broker-wide ssl.* settings of SSL and SASL_SSL listeners
	// (and of the follower's client side when the inter-broker listener
	// is one); ListenerSSL the listener.name.<name>.ssl.* overrides, by
	// upper-case listener name then ssl.* key (SetListenerSSL).
	SSL         TLSSettings
	ListenerSSL map[string]map[string]string
	// TLSReloadInterval is how often the keystore and truststore files are
	// checked for changes (ssl.reload.interval.ms, Strom's own; new
	// connections get the new certificates).
	TLSReloadInterval time.Duration
	// RaftSecurityProtocol is Strom's raft.security.protocol: PLAINTEXT
	// ("") or SSL, mutual TLS on the Raft port with the ssl.* settings and
	// their listener.name.raft.ssl.* overrides (raftTLSSettings).
	RaftSecurityProtocol string
	// SASL is the SASL settings (config_sasl.go).
	SASL SASLConfig
	// ReplicaLagTimeMax is replica.lag.time.max.ms: a follower not caught up
	// for this long leaves the ISR.
	ReplicaLagTimeMax time.Duration
	// ReplicaFetchWaitMax is replica.fetch.wait.max.ms.
	ReplicaFetchWaitMax time.Duration

	// GossipAdvertise is the gossip address peers dial (an IP:port), when
	// GossipAddr binds a wildcard address.
	GossipAdvertise string
	// ClusterKeys is Strom's cluster.keys: AES keys (16, 24 or 32 bytes)
	// the brokers of a cluster share. They encrypt and authenticate all
	// gossip (membership.Config.Keys) and every connection to the Raft
	// port must prove one (raftmeta.Config.ClusterKeys); the first is this
	// broker's, any is accepted. Empty: neither.
	ClusterKeys [][]byte
	// RaftAdvertise is the Raft address peers dial, when RaftAddr binds a
	// wildcard address or a name they cannot use.
	RaftAdvertise string
	// FastGossip selects tight failure-detection timers (tests, loopback).
	FastGossip bool
	// ClusterTick is how often the cluster loop re-checks membership,
	// leaders and bootstrap even without gossip events.
	ClusterTick time.Duration
	// AutoLeaderRebalance (auto.leader.rebalance.enable) moves leadership
	// back to each partition's preferred replica once it is in sync.
	AutoLeaderRebalance bool
	// LeaderRebalanceInterval is leader.imbalance.check.interval.seconds.
	LeaderRebalanceInterval time.Duration

	// Authorizer is authorizer.class.name, normalised by
	// ParseAuthorizerClassName: "" (the default) turns authorization off
	// (everything allowed, and the ACL APIs answer SECURITY_DISABLED),
	// AuthorizerStandard turns it on. See authorize.go.
	Authorizer string
	// SuperUsers is super.users: principals ("User:alice") allowed every
	// operation. The brokers' own principal belongs here, since follower
	// fetches need CLUSTER_ACTION on the cluster.
	SuperUsers []string
	// AllowEveryoneIfNoACLFound is allow.everyone.if.no.acl.found: an
	// operation on a resource no ACL names is allowed.
	AllowEveryoneIfNoACLFound bool
	// principalHook, when set, runs before each request is served. For
	// in-package tests only: it sets a principal on PLAINTEXT connections
	// until SASL and TLS set real ones.
	principalHook func(*wire.Request)

	// HTTPAddr, when set, serves Prometheus metrics (cmd/strom).
	HTTPAddr string
	// ConsoleEnable serves the web console (internal/console) under
	// /console/ on HTTPAddr (console.enable, default true).
	ConsoleEnable bool
	// ConsoleWriteEnable lets the console produce test records
	// (console.write.enable, default false: the console is read-only).
	ConsoleWriteEnable bool
	// ConsoleClientConfig is a client properties file (security.protocol,
	// sasl.*, ssl.*) the console uses to talk to this broker's listener as
	// a principal of its own when the listener is secured
	// (console.client.config).
	ConsoleClientConfig string
	// MetricsPartitionLevel is Strom's metrics.partition.level.enable: also
	// export per-partition series (log size, segments and offsets,
	// follower lag, group lag). Off, series stop at the topic, so that the
	// number of series stays bounded with thousands of partitions.
	MetricsPartitionLevel bool
	// PprofAddr, when set, serves /debug/pprof on an address of its own
	// (cmd/strom): profiles are for whoever debugs the broker, not for
	// everyone who may scrape its metrics.
	PprofAddr string

	// FastRaft selects loopback-test Raft timers (raftmeta.FastTimers: an
	// election 50 ms after the controller goes quiet, dead voters replaced
	// after half a second). Off in production: on a busy host a GC pause,
	// a starved process or a slow fsync is longer than 50 ms, and every
	// such stall became a controller election (seen under a 3-broker
	// produce load on 2 cores: hundreds of elections, throughput down 8×).
	FastRaft bool
	// RaftElectionTimeout (controller.quorum.election.timeout.ms) is how
	// long a broker hears nothing from the controller (the Raft leader)
	// before it calls an election, randomised up to twice that; the
	// leader steps down after half of it without a quorum. Ignored with
	// FastRaft.
	RaftElectionTimeout time.Duration

	// Dial, when set, opens every broker-to-broker connection: follower
	// fetches, Raft RPCs and writes forwarded to the controller. Gossip
	// streams go through WrapGossip instead. For tests only: the in-process
	// cluster harness (internal/cluster) routes them through a
	// fault-injecting network to partition brokers. Production leaves it nil
	// (a plain net.Dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// WrapGossip, when set, wraps this broker's gossip transport (see
	// membership.Config.WrapTransport). For tests only, like Dial;
	// production leaves it nil.
	WrapGossip func(memberlist.Transport) memberlist.Transport

	Logger *slog.Logger
}

// DefaultConfig returns the configuration `strom broker` runs with when given no flags.
func DefaultConfig() Config {
	lc := storage.DefaultConfig()
	return Config{
		NodeID:                   1,
		Listeners:                []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}},
		DataDir:                  "./data",
		ConsoleEnable:            true,
		RaftAddr:                 "127.0.0.1:9093",
		GossipAddr:               "127.0.0.1:9094",
		NumPartitions:            1,
		DefaultReplicationFactor: 1,
		MinInsyncReplicas:        1,
		AutoCreateTopics:         true,
		Log:                      lc,
		MessageMaxBytes:          lc.MaxMessageBytes,
		SocketRequestMaxBytes:    100 * 1024 * 1024,
		RetentionCheckInterval:   5 * time.Minute,
		FetchMaxBytes:            55 << 20,
		FetchSessionCacheSlots:   1000,
		TelemetryMaxBytes:        1 << 20,
		SASL: SASLConfig{
			DelegationTokenMaxLifetime: 7 * 24 * time.Hour,
			DelegationTokenExpiryTime:  24 * time.Hour,
		},
		MaxConnections:                       math.MaxInt32,
		MaxConnectionsPerIP:                  math.MaxInt32,
		ConnectionsMaxIdle:                   10 * time.Minute,
		SocketWriteTimeout:                   30 * time.Second,
		AutoCreateTopicsMaxPerRequest:        100,
		GroupMaxSize:                         math.MaxInt32,
		GroupConsumerHeartbeatInterval:       5 * time.Second,
		GroupConsumerSessionTimeout:          45 * time.Second,
		GroupConsumerMaxSize:                 math.MaxInt32,
		GroupConsumerAssignors:               []string{"uniform", "range"},
		OffsetsTopicPartitions:               50,
		OffsetsTopicReplicationFactor:        3,
		TransactionStateLogPartitions:        50,
		TransactionStateLogReplicationFactor: 3,
		TransactionStateLogMinISR:            2,
		TransactionMaxTimeout:                15 * time.Minute,
		TransactionAbortInterval:             10 * time.Second,
		TransactionVersion:                   2,
		ShareRecordLockDuration:              30 * time.Second,
		ShareDeliveryCountLimit:              5,
		SharePartitionMaxRecordLocks:         2000,
		ShareHeartbeatInterval:               5 * time.Second,
		ShareSessionTimeout:                  45 * time.Second,
		ShareGroupMaxSize:                    200,
		ShareStateTopicPartitions:            50,
		ShareStateTopicReplicationFactor:     3,
		ShareStateTopicMinISR:                2,
		ShareAutoOffsetReset:                 "latest",
		TransactionalIDExpiration:            7 * 24 * time.Hour,
		GroupInitialRebalanceDelay:           3 * time.Second,
		GroupMinSessionTimeout:               6 * time.Second,
		GroupMaxSessionTimeout:               30 * time.Minute,
		ClusterTick:                          time.Second,
		AutoLeaderRebalance:                  true,
		LeaderRebalanceInterval:              30 * time.Second,
		ReplicaLagTimeMax:                    30 * time.Second,
		ReplicaFetchWaitMax:                  500 * time.Millisecond,
		RaftElectionTimeout:                  500 * time.Millisecond,
		TLSReloadInterval:                    5 * time.Second,
	}
}

// ParseListeners parses "NAME://host:port,..." (or bare "host:port", named
// PLAINTEXT) as Kafka's listeners and advertised.listeners are written.
func ParseListeners(s string) ([]Listener, error) {
	var out []Listener
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name := "PLAINTEXT"
		if i := strings.Index(part, "://"); i >= 0 {
			name = strings.ToUpper(part[:i])
			part = part[i+3:]
		}
		host, port, err := net.SplitHostPort(part)
		if err != nil {
			return nil, fmt.Errorf("listener %q: want NAME://host:port or host:port: %w", part, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("listener %q: bad port %q", part, port)
		}
		out = append(out, Listener{Name: name, Host: host, Port: p})
	}
	if len(out) == 0 {
		return nil, errors.New("no listener given")
	}
	return out, nil
}

// FormatListeners is the inverse of ParseListeners.
func FormatListeners(ls []Listener) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.String()
	}
	return strings.Join(parts, ",")
}

func isUnspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// advertised resolves what clients are told for each listener. A listener on
// every interface (0.0.0.0, ::, or no host) is advertised with this machine's
// hostname when it resolves, else 127.0.0.1 — and the startup log says so,
// because an address clients cannot reach is the classic Kafka set-up trap.
func (c *Config) advertised() []Listener {
	out := make([]Listener, 0, len(c.Listeners))
	for _, l := range c.Listeners {
		adv := l
		found := false
		for _, a := range c.AdvertisedListeners {
			if a.Name == l.Name {
				adv, found = a, true
			}
		}
		if !found && isUnspecified(adv.Host) {
			adv.Host = defaultAdvertiseHost()
		}
		out = append(out, adv)
	}
	return out
}

func defaultAdvertiseHost() string {
	h, err := os.Hostname()
	if err == nil && h != "" {
		if addrs, err := net.LookupHost(h); err == nil && len(addrs) > 0 {
			return h
		}
	}
	return "127.0.0.1"
}

// SecurityProtocol is the security protocol of the listener called name:
// its listener.security.protocol.map entry; else, as in Kafka, the protocol
// of that name when the listener is called PLAINTEXT, SSL, SASL_PLAINTEXT or
// SASL_SSL; else PLAINTEXT. Kafka refuses to start on an unmapped listener
// name; Strom's default stays an open local broker, so INTERNAL://... without
// a map is a plaintext listener, as it was before security existed.
func (c *Config) SecurityProtocol(name string) string {
	if p, ok := c.ListenerSecurityProtocols[name]; ok {
		return p
	}
	if validSecurityProtocol(name) {
		return name
	}
	return wire.ProtocolPlaintext
}

func validSecurityProtocol(p string) bool {
	switch p {
	case wire.ProtocolPlaintext, wire.ProtocolSSL, wire.ProtocolSASLPlaintext, wire.ProtocolSASLSSL:
		return true
	}
	return false
}

// ParseSecurityProtocolMap parses listener.security.protocol.map,
// "NAME:PROTOCOL,..." (names upper-cased like listeners).
func ParseSecurityProtocolMap(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, proto, ok := strings.Cut(part, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" {
			return nil, fmt.Errorf("listener.security.protocol.map entry %q: want NAME:PROTOCOL", part)
		}
		if !validSecurityProtocol(proto) {
			return nil, fmt.Errorf("listener.security.protocol.map entry %q: protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", part)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("listener.security.protocol.map names listener %s twice", name)
		}
		m[name] = proto
	}
	return m, nil
}

// Validate checks the configuration and names the setting to fix.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeID < 0 {
		errs = append(errs, fmt.Errorf("node.id must be >= 0, got %d", c.NodeID))
	}
	if len(c.Listeners) == 0 {
		errs = append(errs, errors.New("listeners: at least one listener is required"))
	}
	names := map[string]bool{}
	for _, l := range c.Listeners {
		if names[l.Name] {
			errs = append(errs, fmt.Errorf("listeners: name %s used twice", l.Name))
		}
		names[l.Name] = true
	}
	for _, a := range c.AdvertisedListeners {
		if !names[a.Name] {
			errs = append(errs, fmt.Errorf("advertised.listeners: %s has no matching entry in listeners (%s)", a, FormatListeners(c.Listeners)))
		}
		if isUnspecified(a.Host) {
			errs = append(errs, fmt.Errorf("advertised.listeners: %s is not an address a client can connect to; use a hostname or IP clients can reach", a))
		}
		if a.Port == 0 {
			errs = append(errs, fmt.Errorf("advertised.listeners: %s needs a port", a))
		}
	}
	if c.InterBrokerListenerName != "" && !names[c.InterBrokerListenerName] {
		errs = append(errs, fmt.Errorf("inter.broker.listener.name %s has no matching entry in listeners (%s)", c.InterBrokerListenerName, FormatListeners(c.Listeners)))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("log.dirs / --data-dir must be set"))
	}
	if c.NumPartitions < 1 {
		errs = append(errs, fmt.Errorf("num.partitions must be >= 1, got %d", c.NumPartitions))
	}
	if c.DefaultReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("default.replication.factor must be >= 1, got %d", c.DefaultReplicationFactor))
	}
	if c.MinInsyncReplicas < 1 {
		errs = append(errs, fmt.Errorf("min.insync.replicas must be >= 1, got %d", c.MinInsyncReplicas))
	}
	if c.MessageMaxBytes < 1 {
		errs = append(errs, fmt.Errorf("message.max.bytes must be >= 1, got %d", c.MessageMaxBytes))
	}
	if c.SocketRequestMaxBytes < 1024 {
		errs = append(errs, fmt.Errorf("socket.request.max.bytes must be >= 1024, got %d", c.SocketRequestMaxBytes))
	}
	if c.Log.SegmentBytes < 1024 {
		errs = append(errs, fmt.Errorf("log.segment.bytes must be >= 1024, got %d", c.Log.SegmentBytes))
	}
	switch c.Log.Fsync {
	case storage.FsyncAlways, storage.FsyncInterval, storage.FsyncNever:
	default:
		errs = append(errs, fmt.Errorf("log.fsync must be always, interval or never, got %q", c.Log.Fsync))
	}
	if c.Log.MaxCompactionLag > 0 && c.Log.MinCompactionLag > c.Log.MaxCompactionLag {
		errs = append(errs, fmt.Errorf("log.cleaner.min.compaction.lag.ms (%d) must not exceed log.cleaner.max.compaction.lag.ms (%d)",
			c.Log.MinCompactionLag.Milliseconds(), c.Log.MaxCompactionLag.Milliseconds()))
	}
	errs = append(errs, c.validateLimits()...)
	errs = append(errs, c.validateTLS()...)
	errs = append(errs, c.validateAuthorizer()...)
	errs = append(errs, c.validateSASL())
	if c.OffsetsTopicPartitions < 1 {
		errs = append(errs, fmt.Errorf("offsets.topic.num.partitions must be >= 1, got %d", c.OffsetsTopicPartitions))
	}
	return errors.Join(errs...)
}

// validateLimits checks the settings that bound what one client may use.
func (c *Config) validateLimits() []error {
	var errs []error
	if c.FetchMaxBytes < 1024 {
		errs = append(errs, fmt.Errorf("fetch.max.bytes must be >= 1024, got %d", c.FetchMaxBytes))
	}
	if c.TelemetryMaxBytes < 1 {
		errs = append(errs, fmt.Errorf("telemetry.max.bytes must be >= 1, got %d", c.TelemetryMaxBytes))
	}
	if c.FetchSessionCacheSlots < 0 {
		errs = append(errs, fmt.Errorf("max.incremental.fetch.session.cache.slots must be >= 0, got %d", c.FetchSessionCacheSlots))
	}
	if c.LogMaxOpenFiles < 0 {
		errs = append(errs, fmt.Errorf("log.max.open.files must be >= 0, got %d", c.LogMaxOpenFiles))
	}
	if c.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("max.connections must be >= 1, got %d", c.MaxConnections))
	}
	if c.MaxConnectionsPerIP < 1 {
		errs = append(errs, fmt.Errorf("max.connections.per.ip must be >= 1, got %d", c.MaxConnectionsPerIP))
	}
	if c.ConnectionsMaxIdle == 0 {
		errs = append(errs, errors.New("connections.max.idle.ms must not be 0 (use -1 for never)"))
	}
	if c.SocketWriteTimeout == 0 {
		errs = append(errs, errors.New("socket.write.timeout.ms must not be 0 (use -1 for never)"))
	}
	if c.AutoCreateTopicsMaxPerRequest < 1 {
		errs = append(errs, fmt.Errorf("auto.create.topics.max.per.request must be >= 1, got %d", c.AutoCreateTopicsMaxPerRequest))
	}
	if c.GroupMaxSize < 1 {
		errs = append(errs, fmt.Errorf("group.max.size must be >= 1, got %d", c.GroupMaxSize))
	}
	errs = append(errs, c.validateConsumerGroups()...)
	return append(errs, c.validateShare()...)
}

// validateConsumerGroups checks the group.consumer.* settings with the
// coordinator's own rules (group.Config.Validate).
func (c *Config) validateConsumerGroups() []error {
	var errs []error
	if c.GroupConsumerMaxSize < 1 {
		errs = append(errs, fmt.Errorf("group.consumer.max.size must be >= 1, got %d", c.GroupConsumerMaxSize))
	}
	if c.GroupConsumerHeartbeatInterval <= 0 || c.GroupConsumerSessionTimeout <= 0 {
		errs = append(errs, fmt.Errorf("group.consumer.heartbeat.interval.ms and group.consumer.session.timeout.ms must be positive, got %v and %v",
			c.GroupConsumerHeartbeatInterval, c.GroupConsumerSessionTimeout))
		return errs
	}
	if len(c.GroupConsumerAssignors) == 0 {
		errs = append(errs, errors.New("group.consumer.assignors must name at least one assignor"))
		return errs
	}
	gc := group.DefaultConfig()
	gc.ConsumerHeartbeatInterval, gc.ConsumerSessionTimeout = c.GroupConsumerHeartbeatInterval, c.GroupConsumerSessionTimeout
	gc.ConsumerAssignors = c.GroupConsumerAssignors
	if err := gc.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// validateShare checks the share-group settings (zero means Kafka's
// default, shareDefaults).
func (c *Config) validateShare() []error {
	var errs []error
	switch c.ShareAutoOffsetReset {
	case "", "latest", "earliest":
	default:
		errs = append(errs, fmt.Errorf("share.auto.offset.reset must be latest or earliest, got %q", c.ShareAutoOffsetReset))
	}
	for name, v := range map[string]int64{
		"group.share.record.lock.duration.ms":              int64(c.ShareRecordLockDuration),
		"group.share.delivery.count.limit":                 int64(c.ShareDeliveryCountLimit),
		"group.share.partition.max.record.locks":           int64(c.SharePartitionMaxRecordLocks),
		"group.share.heartbeat.interval.ms":                int64(c.ShareHeartbeatInterval),
		"group.share.session.timeout.ms":                   int64(c.ShareSessionTimeout),
		"group.share.max.size":                             int64(c.ShareGroupMaxSize),
		"share.coordinator.state.topic.num.partitions":     int64(c.ShareStateTopicPartitions),
		"share.coordinator.state.topic.replication.factor": int64(c.ShareStateTopicReplicationFactor),
		"share.coordinator.state.topic.min.isr":            int64(c.ShareStateTopicMinISR),
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %d", name, v))
		}
	}
	return errs
}
