package group

// TxnOffsetCommit (Kafka's GroupCoordinator.handleTxnCommitOffsets): the
// offsets are appended to __consumer_offsets as a transactional batch of
// the producer, and become the group's committed offsets only when the
// transaction coordinator writes the COMMIT marker to that partition
// (CompleteTxn); an ABORT discards them. A reload replays the same rule:
// transactional offset records apply at their COMMIT marker, are dropped
// at an ABORT, and those of transactions still open stay pending.

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnOffsetLog is implemented by an OffsetLog that can append a batch
// written on a transactional producer's behalf (transactional attribute,
// producer id and epoch, no sequence numbers), with Append's contract.
type TxnOffsetLog interface {
	AppendTxn(ctx context.Context, batch []byte) (int64, error)
}

// TxnOffsetCommit stores offsets committed in a transaction as pending. It
// returns one result per request partition, in request order. v3+ carry the
// member and generation, checked like an OffsetCommit's.
func (c *Coordinator) TxnOffsetCommit(ctx context.Context, req *kmsg.TxnOffsetCommitRequest) []PartitionResult {
	var res []PartitionResult
	var entries []commitEntry
	now := nowMillis(c.now())
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			r := PartitionResult{Topic: t.Topic, Partition: p.Partition}
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			if len(md) > c.cfg.MaxMetadataSize {
				r.Err = fmt.Errorf("%w: %d bytes, at most %d", ErrOffsetMetadataTooLarge, len(md), c.cfg.MaxMetadataSize)
			} else {
				e := offsetEntry{offset: p.Offset, leaderEpoch: -1, metadata: md, commitTime: now, expireTime: -1}
				if req.Version >= 2 {
					e.leaderEpoch = p.LeaderEpoch
				}
				entries = append(entries, commitEntry{tp{t.Topic, p.Partition}, e})
			}
			res = append(res, r)
		}
	}
	err := checkVersion(apiTxnOffsetCommit, req.Version)
	if err == nil {
		err = c.txnCommit(ctx, req, entries)
	}
	for i := range res {
		if res[i].Err == nil {
			res[i].Err = err
		}
	}
	return res
}

func (c *Coordinator) txnCommit(ctx context.Context, req *kmsg.TxnOffsetCommitRequest, entries []commitEntry) error {
	g, err := c.getOrCreate(req.Group)
	if err != nil {
		return err
	}
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.Lock()
	if req.Version >= 3 && (req.Generation >= 0 || req.MemberID != "") {
		err = g.commitCheck(req.Generation, req.MemberID, req.InstanceID, -1)
	} else {
		err = g.closedErr()
	}
	g.mu.Unlock()
	if err != nil || len(entries) == 0 {
		return err
	}
	tl, ok := g.part.log.(TxnOffsetLog)
	if !ok {
		return fmt.Errorf("%w: offsets log takes no transactional batches", ErrCoordinatorNotAvailable)
	}
	recs := make([]kv, 0, len(entries))
	for _, e := range entries {
		recs = append(recs, kv{offsetKey(g.id, e.tp.topic, e.tp.partition), offsetValue(e.e)})
	}
	b := buildBatch(nowMillis(c.now()), recs)
	markTransactional(b, req.ProducerID, req.ProducerEpoch)
	// Pending before the append: a marker that lands in between finds
	// them (and, when it bumped the epoch, the append then fails).
	prev := c.setTxnPending(g, req.ProducerID, entries)
	if _, err := tl.AppendTxn(ctx, b); err != nil {
		c.restoreTxnPending(g, req.ProducerID, prev)
		return fmt.Errorf("group %q: append transactional offsets: %w", g.id, err)
	}
	return nil
}

// setTxnPending records entries as pid's pending offsets of g and returns
// what they replaced (nil values: nothing).
func (c *Coordinator) setTxnPending(g *group, pid int64, entries []commitEntry) map[tp]*offsetEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := g.part
	if p.txnOffsets == nil {
		p.txnOffsets = make(map[int64]map[string]map[tp]offsetEntry)
	}
	byGroup := p.txnOffsets[pid]
	if byGroup == nil {
		byGroup = make(map[string]map[tp]offsetEntry)
		p.txnOffsets[pid] = byGroup
	}
	if byGroup[g.id] == nil {
		byGroup[g.id] = make(map[tp]offsetEntry)
	}
	prev := make(map[tp]*offsetEntry, len(entries))
	for _, e := range entries {
		if old, ok := byGroup[g.id][e.tp]; ok {
			prev[e.tp] = &old
		} else {
			prev[e.tp] = nil
		}
		byGroup[g.id][e.tp] = e.e
	}
	return prev
}

// restoreTxnPending undoes setTxnPending after a failed append, unless a
// marker has decided pid's transaction meanwhile.
func (c *Coordinator) restoreTxnPending(g *group, pid int64, prev map[tp]*offsetEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	offs := g.part.txnOffsets[pid][g.id]
	if offs == nil {
		return
	}
	for t, old := range prev {
		if old != nil {
			offs[t] = *old
		} else {
			delete(offs, t)
		}
	}
}

// markTransactional turns a batch built by buildBatch into producer pid's
// transactional batch and recomputes its CRC.
func markTransactional(b []byte, pid int64, epoch int16) {
	binary.BigEndian.PutUint16(b[21:23], binary.BigEndian.Uint16(b[21:23])|attrTransactional)
	binary.BigEndian.PutUint64(b[43:51], uint64(pid))
	binary.BigEndian.PutUint16(b[51:53], uint16(epoch))
	binary.BigEndian.PutUint32(b[17:21], crc32.Checksum(b[21:], castagnoli))
}

// CompleteTxn applies (commit) or discards the offsets producer pid
// committed in its transaction to groups of __consumer_offsets partition
// idx; the server calls it once that partition holds the marker.
func (c *Coordinator) CompleteTxn(idx int32, pid int64, commit bool) {
	c.mu.Lock()
	p := c.parts[idx]
	if p != nil && p.loading {
		// The load may have read the log before this marker: decide
		// what it leaves pending when it ends (applyLateMarkers).
		if p.lateMarkers == nil {
			p.lateMarkers = make(map[int64]bool)
		}
		p.lateMarkers[pid] = commit
		c.mu.Unlock()
		return
	}
	if p == nil || p.txnOffsets == nil {
		c.mu.Unlock()
		return
	}
	byGroup := p.txnOffsets[pid]
	delete(p.txnOffsets, pid)
	c.mu.Unlock()
	if !commit {
		return
	}
	for id, offs := range byGroup {
		g, err := c.getOrCreate(id)
		if err != nil {
			c.log.Warn("cannot apply transactional offsets", "group", id, "err", err)
			continue
		}
		g.mu.Lock()
		for t, e := range offs {
			g.offsets[t] = e
		}
		g.mu.Unlock()
	}
}

// txnReplay buffers transactional offset records during a load until their
// marker: decided is what replay applies, open what stays pending.
type txnReplay struct {
	open map[int64][]decodedRecord
}

// add handles one decoded record; it returns the records to apply now.
func (t *txnReplay) add(r decodedRecord) []decodedRecord {
	switch {
	case r.control:
		recs := t.open[r.pid]
		delete(t.open, r.pid)
		if r.commit {
			return recs
		}
		return nil
	case r.txn:
		if t.open == nil {
			t.open = make(map[int64][]decodedRecord)
		}
		t.open[r.pid] = append(t.open[r.pid], r)
		return nil
	}
	return []decodedRecord{r}
}

// pending turns the records of transactions still open at the end of a
// load into the partition's pending offsets.
func (t *txnReplay) pending() map[int64]map[string]map[tp]offsetEntry {
	out := make(map[int64]map[string]map[tp]offsetEntry)
	for pid, recs := range t.open {
		lgs := make(map[string]*loadedGroup)
		get := func(id string) *loadedGroup {
			if lgs[id] == nil {
				lgs[id] = &loadedGroup{offsets: make(map[tp]offsetEntry)}
			}
			return lgs[id]
		}
		for _, r := range recs {
			_ = applyRecord(get, r)
		}
		out[pid] = make(map[string]map[tp]offsetEntry)
		for id, lg := range lgs {
			out[pid][id] = lg.offsets
		}
	}
	return out
}

// addTxnPending adds to pending the partitions of g with offsets committed
// in an undecided transaction. Caller holds g.mu (c.mu is innermost).
func (c *Coordinator) addTxnPending(g *group, pending map[tp]int) map[tp]int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, byGroup := range g.part.txnOffsets {
		for t := range byGroup[g.id] {
			if pending == nil {
				pending = make(map[tp]int)
			}
			pending[t]++
		}
	}
	return pending
}

// applyLateMarkers decides the transactions whose markers arrived during a
// load that had already read past them: committed offsets join the loaded
// groups, aborted ones are dropped. A marker the load did read left nothing
// pending, so it changes nothing here.
func applyLateMarkers(late map[int64]bool, pending map[int64]map[string]map[tp]offsetEntry, loaded map[string]*loadedGroup) {
	for pid, commit := range late {
		byGroup := pending[pid]
		delete(pending, pid)
		if !commit {
			continue
		}
		for id, offs := range byGroup {
			lg := loaded[id]
			if lg == nil {
				lg = &loadedGroup{offsets: make(map[tp]offsetEntry)}
				loaded[id] = lg
			}
			for t, e := range offs {
				lg.offsets[t] = e
			}
		}
	}
}
