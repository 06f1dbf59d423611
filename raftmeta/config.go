package raftmeta

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Config configures a metadata node. Fill it from DefaultConfig and then
// override; Validate (called by Open) rejects inconsistent values.
type Config struct {
	NodeID  int32
	DataDir string // raft log (raft-boltdb), snapshots and node identity live here
	// RaftBind is the host:port the Raft transport listens on; port 0 picks
	// one. Empty means 127.0.0.1:0, enough for a single broker (its peers are
	// nobody); multi-node clusters must set a reachable, stable address.
	RaftBind string
	// RaftAdvertise is the address other nodes dial; defaults to the bound
	// address. A port of 0 here means "the bound port". Binding to a wildcard
	// address (0.0.0.0, ::) requires RaftAdvertise.
	RaftAdvertise string
	// BootstrapSelf makes a node with no prior state bootstrap a one-voter
	// cluster of itself at Open (single-broker mode). Ignored when
	// BootstrapExpect > 1.
	BootstrapSelf bool
	// BootstrapExpect is the number of voters of a new cluster (cluster
	// mode). With BootstrapExpect > 1 a node without Raft state never
	// bootstraps at Open; the server calls TryBootstrap with the gossip
	// members until one node forms the cluster (see TryBootstrap for the
	// rule). It is also the voter count ReconcileMembers maintains when it
	// replaces dead voters (minimum 1). 0 means "not in cluster mode":
	// TryBootstrap does nothing and the target voter count is 1.
	BootstrapExpect int
	// DeadVoterTimeout is how long a voter must be missing from the members
	// passed to ReconcileMembers before the controller replaces it with a
	// live non-voter (and removes it); missing non-voters are removed after
	// the same time. Long enough to ride out a broker restart, since a
	// replacement costs a voter change. 0 means the default.
	DeadVoterTimeout time.Duration
	// ReconcileInterval is how often the controller re-runs the membership
	// reconciliation with the last members it was given, so timeouts fire
	// without a membership event. 0 means the default.
	ReconcileInterval time.Duration
	Logger            *slog.Logger // nil discards logs
	// Raft timers; DefaultConfig gives production values, tests tighten them
	// with FastTimers. Raft requires LeaderLeaseTimeout <= HeartbeatTimeout <=
	// ElectionTimeout.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotThreshold is how many log entries since the last snapshot make
	// raft take a new one (checked every couple of minutes).
	SnapshotThreshold uint64
	// InMemory keeps the raft log, stable store and snapshots in memory and
	// uses raft's in-memory transport instead of TCP (DataDir, RaftBind and
	// RaftAdvertise are ignored; the raft address is "inmem-<id>"). For tests
	// of the layers above that need a real controller without sockets or
	// disks: nodes are linked with ConnectInMemory, and forwarding a write
	// to a controller elsewhere is not available (such writes fail with
	// ErrNoController when ctx ends), so tests write on the controller.
	InMemory bool
	// Dial opens every outbound connection of the node: Raft RPCs to peers
	// and forwarded writes to the controller. Nil is a plain net.Dialer.
	// For tests: the in-process cluster harness routes them through its
	// fault-injecting network to partition brokers. Production leaves it
	// nil. It may be called concurrently and must honour ctx.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ClusterKeys, when set, guard the Raft port: every connection, Raft
	// RPCs and forwarded writes alike, starts with a mutual
	// challenge-response proving both ends hold one of these keys (auth.go);
	// one that does not is closed before a byte of it is read as Raft.
	// The first key proves this node; any key is accepted from a peer.
	ClusterKeys [][]byte
	// TLS, when set, wraps every connection to and from the Raft port in
	// TLS (tls.go): TLS is the acceptor's configuration (it should require
	// and verify client certificates: mutual TLS), TLSClient returns the
	// dialer's current one (called per dial, so reloaded certificates
	// apply to new connections). Both or neither. With ClusterKeys too,
	// the key handshake runs inside TLS.
	TLS       *tls.Config
	TLSClient func() *tls.Config
}

const (
	// defaultRaftBind is used when Config.RaftBind is empty.
	defaultRaftBind = "127.0.0.1:0"
	// defaultDeadVoterTimeout: memberlist has already needed seconds to
	// declare the broker dead; another half minute covers a rolling restart.
	defaultDeadVoterTimeout = 30 * time.Second
	// defaultReconcileInterval bounds how late a dead-voter timeout fires.
	defaultReconcileInterval = 5 * time.Second
)

// DefaultConfig returns production defaults: half of hashicorp/raft's own
// timers (a follower waits 0.5-1 s without heartbeats before calling an
// election). Brokers share a LAN, and a dead controller stalls partition
// leader elections until a new one is elected, so it is noticed in about a
// second.
//
// A cluster with a single voter does not even pay that: Open notices that
// this node is the only voter and starts the election at once (see
// kickSoloElection), so `strom broker` is ready in milliseconds.
func DefaultConfig() Config {
	return Config{
		RaftBind:           defaultRaftBind,
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		SnapshotThreshold:  8192,
		DeadVoterTimeout:   defaultDeadVoterTimeout,
		ReconcileInterval:  defaultReconcileInterval,
	}
}

// FastTimers tightens c's raft timers for loopback tests (elections in well
// under a second, quick failover in multi-node tests), and the membership
// timers (dead voters replaced after half a second). Not for production:
// a GC pause or a busy machine would cause needless elections.
func FastTimers(c *Config) {
	c.HeartbeatTimeout = 50 * time.Millisecond
	c.ElectionTimeout = 50 * time.Millisecond
	c.LeaderLeaseTimeout = 50 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.DeadVoterTimeout = 500 * time.Millisecond
	c.ReconcileInterval = 50 * time.Millisecond
}

// Validate reports whether c can start a node; errors wrap ErrInvalidConfig.
func (c *Config) Validate() error {
	switch {
	case c.NodeID < 0:
		return fmt.Errorf("%w: node id %d is negative", ErrInvalidConfig, c.NodeID)
	case c.DataDir == "" && !c.InMemory:
		return fmt.Errorf("%w: empty DataDir", ErrInvalidConfig)
	case (c.TLS == nil) != (c.TLSClient == nil):
		return fmt.Errorf("%w: TLS and TLSClient must be set together", ErrInvalidConfig)
	case c.BootstrapExpect < 0:
		return fmt.Errorf("%w: BootstrapExpect %d is negative", ErrInvalidConfig, c.BootstrapExpect)
	case c.DeadVoterTimeout < 0, c.ReconcileInterval < 0:
		return fmt.Errorf("%w: negative DeadVoterTimeout (%v) or ReconcileInterval (%v)",
			ErrInvalidConfig, c.DeadVoterTimeout, c.ReconcileInterval)
	case c.HeartbeatTimeout < 5*time.Millisecond,
		c.ElectionTimeout < c.HeartbeatTimeout,
		c.LeaderLeaseTimeout < 5*time.Millisecond,
		c.LeaderLeaseTimeout > c.HeartbeatTimeout,
		c.CommitTimeout < time.Millisecond:
		return fmt.Errorf("%w: raft timers must satisfy 5ms <= LeaderLeaseTimeout <= HeartbeatTimeout <= ElectionTimeout and CommitTimeout >= 1ms (got lease %v, heartbeat %v, election %v, commit %v)",
			ErrInvalidConfig, c.LeaderLeaseTimeout, c.HeartbeatTimeout, c.ElectionTimeout, c.CommitTimeout)
	}
	for i, k := range c.ClusterKeys {
		if len(k) < 16 {
			return fmt.Errorf("%w: cluster key %d is %d bytes, want at least 16", ErrInvalidConfig, i+1, len(k))
		}
	}
	return nil
}
