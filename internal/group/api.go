package group

// API CONTRACT (written by the lead so internal/server can compile against it).
// The group owner replaces the bodies; exported names and signatures are relied
// on by internal/server. Additions are fine; changes must be coordinated.

import (
	"context"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetLog is one partition of __consumer_offsets as the coordinator sees it.
// Implemented by the server on top of a replica partition. Safe for concurrent use.
type OffsetLog interface {
	// Append appends one v2 record batch (base offset 0, offsets assigned by the
	// log) and returns once it is committed (acks=all semantics).
	Append(ctx context.Context, batch []byte) (baseOffset int64, err error)
	// Read returns whole batches starting at the one containing offset, at most
	// about maxBytes (at least one batch); empty at the log end.
	Read(offset int64, maxBytes int) ([]byte, error)
	// LogStartOffset and LogEndOffset bound the readable range.
	LogStartOffset() int64
	LogEndOffset() int64
}

// Config configures the coordinator.
type Config struct {
	NumPartitions         int32         // offsets.topic.num.partitions (50)
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms (6s)
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms (30m)
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms (3s; tests use 0)
	OffsetsRetention      time.Duration // offsets.retention.minutes (7d)
	Logger                *slog.Logger
	// TopicPartitionExists, if set, is used to reject commits for unknown partitions.
	TopicPartitionExists func(topic string, partition int32) bool
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config { panic("todo") }

// Coordinator is the classic-protocol group coordinator for the
// __consumer_offsets partitions loaded into it.
type Coordinator struct{}

// New returns a coordinator owning no partitions.
func New(cfg Config) *Coordinator { panic("todo") }

// PartitionFor is the __consumer_offsets partition for a group id
// (abs(javaStringHashCode(group)) % NumPartitions).
func (c *Coordinator) PartitionFor(groupID string) int32 { panic("todo") }

// LoadPartition replays a __consumer_offsets partition and starts serving its groups.
func (c *Coordinator) LoadPartition(ctx context.Context, partition int32, log OffsetLog) error {
	panic("todo")
}

// UnloadPartition stops serving the partition's groups (leadership moved).
func (c *Coordinator) UnloadPartition(partition int32) { panic("todo") }

// Close stops timers and wakes blocked joins.
func (c *Coordinator) Close() { panic("todo") }

// Each request method honours req.Version and returns a response of the same
// version. Blocking calls (JoinGroup, SyncGroup) honour ctx.
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	panic("todo")
}
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	panic("todo")
}
func (c *Coordinator) Heartbeat(ctx context.Context, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	panic("todo")
}
func (c *Coordinator) LeaveGroup(ctx context.Context, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	panic("todo")
}
func (c *Coordinator) OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	panic("todo")
}
func (c *Coordinator) OffsetFetch(ctx context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	panic("todo")
}
func (c *Coordinator) ListGroups(ctx context.Context, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	panic("todo")
}
func (c *Coordinator) DescribeGroups(ctx context.Context, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	panic("todo")
}
func (c *Coordinator) DeleteGroups(ctx context.Context, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	panic("todo")
}
func (c *Coordinator) OffsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	panic("todo")
}
