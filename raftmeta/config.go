package raftmeta

import (
	"fmt"
	"log/slog"
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
	// BootstrapSelf makes a node with no prior state bootstrap a one-voter cluster of itself.
	BootstrapSelf bool
	Logger        *slog.Logger // nil discards logs
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
}

// defaultRaftBind is used when Config.RaftBind is empty.
const defaultRaftBind = "127.0.0.1:0"

// DefaultConfig returns production defaults: hashicorp/raft's own timers,
// which suit a LAN cluster of several voters (a follower waits 1-2 s without
// heartbeats before calling an election).
//
// A cluster with a single voter does not pay that second: Open notices that
// this node is the only voter and starts the election at once (see
// kickSoloElection), so `strom broker` is ready in milliseconds with these
// defaults, while multi-voter clusters keep the conservative failure detector.
func DefaultConfig() Config {
	return Config{
		RaftBind:           defaultRaftBind,
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		SnapshotThreshold:  8192,
	}
}

// FastTimers tightens c's raft timers for loopback tests (elections in well
// under a second, quick failover in multi-node tests). Not for production:
// a GC pause or a busy machine would cause needless elections.
func FastTimers(c *Config) {
	c.HeartbeatTimeout = 50 * time.Millisecond
	c.ElectionTimeout = 50 * time.Millisecond
	c.LeaderLeaseTimeout = 50 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
}

// Validate reports whether c can start a node; errors wrap ErrInvalidConfig.
func (c *Config) Validate() error {
	switch {
	case c.NodeID < 0:
		return fmt.Errorf("%w: node id %d is negative", ErrInvalidConfig, c.NodeID)
	case c.DataDir == "":
		return fmt.Errorf("%w: empty DataDir", ErrInvalidConfig)
	case c.HeartbeatTimeout < 5*time.Millisecond,
		c.ElectionTimeout < c.HeartbeatTimeout,
		c.LeaderLeaseTimeout < 5*time.Millisecond,
		c.LeaderLeaseTimeout > c.HeartbeatTimeout,
		c.CommitTimeout < time.Millisecond:
		return fmt.Errorf("%w: raft timers must satisfy 5ms <= LeaderLeaseTimeout <= HeartbeatTimeout <= ElectionTimeout and CommitTimeout >= 1ms (got lease %v, heartbeat %v, election %v, commit %v)",
			ErrInvalidConfig, c.LeaderLeaseTimeout, c.HeartbeatTimeout, c.ElectionTimeout, c.CommitTimeout)
	}
	return nil
}
