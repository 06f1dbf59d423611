package replica

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/strombroker/strom/storage"
)

// Follower-side writes to a Partition. The fetcher is their only caller.
// Each one takes Partition.mu and first checks that the replica still
// follows at the epoch the fetcher was started for, so once BecomeLeader (or
// a newer BecomeFollower, or close) has returned, no fetch that was already
// in flight can write to the log.

// batchPrefixLen is the part of a v2 record batch that precedes the length
// it declares: baseOffset (8 bytes) and batchLength (4 bytes).
const batchPrefixLen = 12

// wholeBatches returns the longest prefix of b made of complete batches,
// going by each batch's declared length. A leader may cut the last batch of
// a response at its byte limit (Kafka does), and that tail is fetched again
// next time. A nonsensical length stops the walk; the remaining prefix is
// still validated by the append.
func wholeBatches(b []byte) []byte {
	pos := 0
	for len(b)-pos >= batchPrefixLen {
		n := int64(int32(binary.BigEndian.Uint32(b[pos+8:])))
		if n <= 0 || n > int64(len(b)-pos-batchPrefixLen) {
			break
		}
		pos += batchPrefixLen + int(n)
	}
	return b[:pos]
}

// followingLocked reports whether the replica follows at epoch. Caller
// holds p.mu.
func (p *Partition) followingLocked(epoch int32) error {
	switch {
	case p.closed:
		return ErrClosed
	case p.leader || p.leaderEpoch != epoch:
		return fmt.Errorf("%w: %s-%d now leader=%v at epoch %d, fetcher at %d", errStopFollowing, p.Topic, p.Index, p.leader, p.leaderEpoch, epoch)
	}
	return nil
}

// following reports whether the replica still follows at epoch.
func (p *Partition) following(epoch int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.followingLocked(epoch) == nil
}

// latestEpoch is the newest leader epoch recorded in the local log (-1 if
// none).
func (p *Partition) latestEpoch() int32 {
	e, _ := p.log.EndOffsetForEpoch(math.MaxInt32)
	return e
}

// appendAsFollower appends the whole batches of recs (records fetched from
// the leader while following at epoch) and returns how many bytes were
// appended. Batches entirely below the log end are skipped (already here);
// a batch that straddles the log end means our tail disagrees with the
// leader's batch boundaries, so the tail is cut back to that batch first.
// Producer state is updated from the appended headers, so idempotent
// retries are still recognised as duplicates after this replica takes over.
func (p *Partition) appendAsFollower(epoch int32, recs []byte) (int, error) {
	recs = wholeBatches(recs)
	if len(recs) == 0 {
		return 0, nil
	}
	hdrs, err := storage.ParseBatches(recs, 0)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	if err := p.followingLocked(epoch); err != nil {
		p.mu.Unlock()
		return 0, err
	}
	leo := p.log.LogEndOffset()
	skip := 0
	for len(hdrs) > 0 && hdrs[0].LastOffset() < leo {
		skip += hdrs[0].Size()
		hdrs = hdrs[1:]
	}
	recs = recs[skip:]
	if len(hdrs) == 0 {
		p.mu.Unlock()
		return 0, nil
	}
	if hdrs[0].BaseOffset < leo {
		if err := p.truncateLocked(hdrs[0].BaseOffset); err != nil {
			p.mu.Unlock()
			return 0, err
		}
		if p.log.LogEndOffset() != hdrs[0].BaseOffset {
			// Cut further back than the batch; refetch from there.
			p.mu.Unlock()
			return 0, nil
		}
	}
	res, err := p.log.AppendAsFollowerParsed(recs, hdrs)
	if err != nil {
		p.mu.Unlock()
		return 0, err
	}
	if res.Rolled {
		p.takeSnapshotLocked(res.BaseOffset) // the state before these batches
	}
	p.noteLocked(hdrs, recs)
	fsync := p.settings.Log.Fsync == storage.FsyncAlways
	p.mu.Unlock()

	// The next fetch offset tells the leader we have these records, and the
	// leader counts them toward the high watermark: under FsyncAlways they
	// must be on disk first, as they are on the leader before it acks.
	if fsync {
		if err := p.log.Sync(); err != nil {
			return 0, err
		}
	}
	p.markDurable(p.log.LogEndOffset())
	return len(recs), nil
}

// truncateAsFollower removes everything at and above offset (a divergent
// tail found through OffsetForLeaderEpoch) while following at epoch.
func (p *Partition) truncateAsFollower(epoch int32, offset int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.followingLocked(epoch); err != nil {
		return err
	}
	if offset >= p.log.LogEndOffset() {
		return nil
	}
	return p.truncateLocked(offset)
}

// truncateLocked cuts the log at offset and rebuilds what depended on the
// removed tail: producer state, the durable offset and the high watermark.
// Caller holds p.mu.
func (p *Partition) truncateLocked(offset int64) error {
	p.logger.Info("truncating divergent tail", "offset", offset, "logEnd", p.log.LogEndOffset())
	if err := p.log.TruncateTo(offset); err != nil {
		return err
	}
	return p.afterTruncateLocked()
}

// restartAsFollower empties the log and restarts it at offset (the leader's
// log start offset, when our log end fell below it), as Kafka's
// truncateFullyAndStartAt.
func (p *Partition) restartAsFollower(epoch int32, offset int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.followingLocked(epoch); err != nil {
		return err
	}
	p.logger.Info("log end below the leader's log start: restarting log", "offset", offset, "logEnd", p.log.LogEndOffset())
	if err := p.log.TruncateFullyAndStartAt(offset); err != nil {
		return err
	}
	return p.afterTruncateLocked()
}

func (p *Partition) afterTruncateLocked() error {
	leo := p.log.LogEndOffset()
	p.durable.Store(leo)
	if p.hw.Load() > leo {
		p.hw.Store(leo)
	}
	// Snapshots above the new end describe the removed tail.
	p.pruneSnapshots(p.log.LogStartOffset(), leo)
	return p.restoreStateLocked(false)
}

// wakeAcksWaiters wakes acks=all producers blocked in waitAcks so that they
// re-check leadership.
func (p *Partition) wakeAcksWaiters() {
	p.hwMu.Lock()
	close(p.hwWaits)
	p.hwWaits = make(chan struct{})
	p.hwMu.Unlock()
}

// updateFollowerHW sets a follower's high watermark to min(leaderHW, LEO),
// as Kafka's follower does, so that it is right if this replica becomes
// leader. It may move down: the value at startup is only a guess (the log
// end), and the leader's is the truth.
func (p *Partition) updateFollowerHW(epoch int32, leaderHW int64) {
	p.mu.Lock()
	if p.followingLocked(epoch) != nil || leaderHW < 0 {
		p.mu.Unlock()
		return
	}
	p.leaderHW.Store(leaderHW)
	leo := p.log.LogEndOffset()
	hw := min(leaderHW, leo)
	moved := p.hw.Swap(hw) != hw
	if leo >= leaderHW && p.recovering.CompareAndSwap(true, false) {
		p.logger.Info("caught up with the leader's high watermark after an unclean stop", "highWatermark", leaderHW)
	}
	p.mu.Unlock()
	if moved && p.changed != nil {
		p.changed()
	}
}

// advanceLogStartAsFollower follows the leader's log start offset forward
// (DeleteRecords and retention on the leader), never past our own high
// watermark.
func (p *Partition) advanceLogStartAsFollower(epoch int32, leaderStart int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.followingLocked(epoch) != nil {
		return nil
	}
	hw := p.hw.Load()
	off := min(leaderStart, hw)
	if off <= p.log.LogStartOffset() {
		return nil
	}
	if err := p.log.DeleteRecordsBefore(off, hw); err != nil {
		return err
	}
	p.pruneSnapshots(p.log.LogStartOffset(), math.MaxInt64) // p.mu is held
	return nil
}
