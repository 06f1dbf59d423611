package raftmeta

// API CONTRACT (written by the lead so other packages can compile against it).
// The raftmeta owner replaces the bodies; exported names and signatures are
// relied on by internal/server. Additions are fine; changes must be coordinated.

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Sentinel errors; internal/server maps them to Kafka codes.
var (
	ErrTopicExists              = errors.New("raftmeta: topic already exists")
	ErrUnknownTopic             = errors.New("raftmeta: unknown topic")
	ErrInvalidPartitions        = errors.New("raftmeta: invalid number of partitions")
	ErrInvalidReplicationFactor = errors.New("raftmeta: invalid replication factor")
	ErrInvalidReplicaAssignment = errors.New("raftmeta: invalid replica assignment")
	ErrNotController            = errors.New("raftmeta: not the controller")
	ErrNoController             = errors.New("raftmeta: no controller elected")
	ErrUnknownCommand           = errors.New("raftmeta: unknown command")
	ErrClosed                   = errors.New("raftmeta: node closed")
)

// Config configures a metadata node.
type Config struct {
	NodeID   int32
	DataDir  string // raft log (raft-boltdb), snapshots and node identity live here
	RaftBind string // host:port the Raft transport listens on; port 0 picks one
	// RaftAdvertise is the address other nodes dial; defaults to the bound address.
	RaftAdvertise string
	// BootstrapSelf makes a node with no prior state bootstrap a one-voter cluster of itself.
	BootstrapSelf bool
	Logger        *slog.Logger
	// Raft timers; DefaultConfig gives production values, tests tighten them.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	SnapshotThreshold  uint64
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config { panic("todo") }

// Listener is one named advertised endpoint of a broker.
type Listener struct {
	Name string // e.g. PLAINTEXT, INTERNAL, EXTERNAL
	Host string
	Port int32
}

// Broker is a registered broker.
type Broker struct {
	ID        int32
	Listeners []Listener
	Rack      string
	RaftAddr  string
	Fenced    bool // registered but not currently alive (issue: cluster)
}

// Partition is the controller's view of one partition.
type Partition struct {
	Index          int32
	Replicas       []int32
	ISR            []int32
	Leader         int32 // -1 when offline
	LeaderEpoch    int32
	PartitionEpoch int32
}

// Topic is an immutable snapshot of a topic.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions []Partition
	Configs    map[string]string // only explicitly set topic configs
	Internal   bool
}

// State is an immutable snapshot of all metadata. Never mutate it.
type State struct {
	ClusterID      string
	ControllerID   int32 // node id of the raft leader, -1 if none
	Brokers        map[int32]Broker
	Topics         map[string]*Topic
	TopicsByID     map[[16]byte]*Topic
	NextProducerID int64
	Index          uint64 // raft index of the last applied entry
}

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	Assignment        [][]int32 // optional explicit replica assignment per partition
	Configs           map[string]string
	Internal          bool
}

// ConfigOp is one IncrementalAlterConfigs operation; Value nil deletes the key.
type ConfigOp struct {
	Key   string
	Value *string
}

// Node is a metadata node: a Raft member with the FSM.
type Node struct{}

// Open starts the node (Raft transport, stores, FSM).
func Open(cfg Config) (*Node, error) { panic("todo") }

// Close shuts Raft down.
func (n *Node) Close() error { panic("todo") }

// State returns the latest applied state snapshot; never nil after Open.
func (n *Node) State() *State { panic("todo") }

// Changed returns a channel closed at the next state change.
func (n *Node) Changed() <-chan struct{} { panic("todo") }

// IsController reports whether this node is the Raft leader.
func (n *Node) IsController() bool { panic("todo") }

// WaitController blocks until some controller is known and this node has applied its log.
func (n *Node) WaitController(ctx context.Context) error { panic("todo") }

// RegisterBroker adds or updates a broker.
func (n *Node) RegisterBroker(ctx context.Context, b Broker) error { panic("todo") }

// CreateTopic creates a topic, assigning replicas over registered brokers and
// electing the first replica of each partition leader with the full ISR.
func (n *Node) CreateTopic(ctx context.Context, spec TopicSpec, validateOnly bool) (*Topic, error) {
	panic("todo")
}

// DeleteTopic removes a topic.
func (n *Node) DeleteTopic(ctx context.Context, name string) error { panic("todo") }

// CreatePartitions grows a topic to total partitions.
func (n *Node) CreatePartitions(ctx context.Context, name string, total int32, assignment [][]int32, validateOnly bool) error {
	panic("todo")
}

// AlterTopicConfigs applies set/delete operations to a topic's configs.
func (n *Node) AlterTopicConfigs(ctx context.Context, name string, ops []ConfigOp) error {
	panic("todo")
}

// AllocateProducerIDs reserves count consecutive producer ids and returns the first.
func (n *Node) AllocateProducerIDs(ctx context.Context, count int64) (int64, error) { panic("todo") }
