package replica

// Numbers for the broker's metrics, read at scrape time. Each is a lock-free
// load or a brief read lock; none is kept up to date on the write path.

// NumSegments is the number of segment files of the replica's log.
func (p *Partition) NumSegments() int { return p.log.NumSegments() }

// FollowerLag is how many offsets this follower replica is behind the high
// watermark its leader last sent it, as Kafka's fetcher computes its
// ConsumerLag (max(0, leader high watermark - fetch offset)); ok is false
// while this replica leads. The value is as of the last fetch answer: a
// follower cut off from its leader keeps reporting its last lag.
func (p *Partition) FollowerLag() (lag int64, ok bool) {
	if p.IsLeader() {
		return 0, false
	}
	return max(0, p.leaderHW.Load()-p.log.LogEndOffset()), true
}

// ReplicationBytesIn is the number of record bytes this broker's followers
// have fetched and appended from leaders since it started (Kafka's
// ReplicationBytesInPerSec count). Whole fetched batches count, including
// any part of a batch a follower already had.
func (m *Manager) ReplicationBytesIn() int64 { return m.repl.bytesIn.Load() }

// ReassignmentBytesIn counts, like ReplicationBytesIn, the record bytes
// fetched for replicas a reassignment is adding to this broker while they
// are not in sync (Kafka's ReassignmentBytesInPerSec count); zero without
// ReplicationConfig.FollowerThrottle.
func (m *Manager) ReassignmentBytesIn() int64 { return m.repl.reassignBytesIn.Load() }
