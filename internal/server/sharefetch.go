package server

// ShareFetch (key 78), v1 (KIP-932; v0 was early access, v2 adds Kafka
// 4.2's acquire modes and renew acknowledgements, not offered).
//
//   - Sent to each partition's leader. Epoch 0 opens the member's share
//     session with the partitions named (acknowledgements are refused:
//     INVALID_REQUEST), a positive epoch must be the session's next
//     (INVALID_SHARE_SESSION_EPOCH; no session: SHARE_SESSION_NOT_FOUND)
//     and adds Topics and drops ForgottenTopicsData, -1 applies the
//     acknowledgements, closes the session and releases what the member
//     still holds here (fetching is refused: INVALID_REQUEST).
//   - Piggy-backed acknowledgements are applied (and persisted) first;
//     each partition answers AcknowledgeErrorCode.
//   - Then records are acquired on the session's partitions from each
//     share-partition's first available offset, read up to the high
//     watermark (share.isolation.level read_uncommitted; read_committed
//     is not offered), whole batches as stored, with AcquiredRecords
//     ranges and their delivery counts; MaxRecords bounds the records
//     acquired, MaxBytes (capped by fetch.max.bytes) the bytes read;
//     BatchSize is a hint and is not used. Control batches are archived,
//     never delivered. Until MinBytes of records are acquired the request
//     waits up to MaxWaitMillis for new records or released ones.
//   - AcquisitionLockTimeoutMillis is group.share.record.lock.duration.ms.
//     A partition not led here is NOT_LEADER_OR_FOLLOWER with
//     CurrentLeader and NodeEndpoints (KIP-951).
//   - Needs READ on the group (top-level GROUP_AUTHORIZATION_FAILED) and
//     on each topic (TOPIC_AUTHORIZATION_FAILED per partition).

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/internal/share"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/wire"
)

// shareAnswers collects per-partition answers of ShareFetch or
// ShareAcknowledge in request order.
type shareAnswers struct {
	order   []share.TopicPartition
	parts   map[share.TopicPartition]*kmsg.ShareFetchResponseTopicPartition
	batches map[share.TopicPartition][]fetchedBatch // Records, assembled in offset order at the end
}

// addBatch adds fb to tp's records; false if it already is there.
func (a *shareAnswers) addBatch(tp share.TopicPartition, fb fetchedBatch) bool {
	if a.batches == nil {
		a.batches = make(map[share.TopicPartition][]fetchedBatch)
	}
	if slices.ContainsFunc(a.batches[tp], func(x fetchedBatch) bool { return x.base == fb.base }) {
		return false
	}
	a.batches[tp] = append(a.batches[tp], fb)
	return true
}

// records assembles tp's batches and acquired ranges in offset order (a
// later pass of a long poll may acquire released records below earlier
// ones).
func (a *shareAnswers) records(tp share.TopicPartition, rp *kmsg.ShareFetchResponseTopicPartition) {
	bs := a.batches[tp]
	slices.SortFunc(bs, func(x, y fetchedBatch) int { return cmp.Compare(x.base, y.base) })
	for _, b := range bs {
		rp.Records = append(rp.Records, b.raw...)
	}
	slices.SortFunc(rp.AcquiredRecords, func(x, y kmsg.ShareFetchResponseTopicPartitionAcquiredRecord) int {
		return cmp.Compare(x.FirstOffset, y.FirstOffset)
	})
}

func (a *shareAnswers) get(tp share.TopicPartition) *kmsg.ShareFetchResponseTopicPartition {
	if a.parts == nil {
		a.parts = make(map[share.TopicPartition]*kmsg.ShareFetchResponseTopicPartition)
	}
	p := a.parts[tp]
	if p == nil {
		v := kmsg.NewShareFetchResponseTopicPartition()
		v.Partition = tp.Partition
		p = &v
		a.parts[tp] = p
		a.order = append(a.order, tp)
	}
	return p
}

// shareMember is the group and member a ShareFetch or ShareAcknowledge
// names, once both are given and the client may READ the group.
func (s *Server) shareMember(req *wire.Request, groupID, memberID *string) (group, member string, err error) {
	group, member = derefString(groupID), derefString(memberID)
	if group == "" || member == "" {
		return "", "", fmt.Errorf("%w: group and member ids are required", errInvalidRequest)
	}
	if !s.authorize(req, acl.OpRead, acl.ResourceGroup, group) {
		return "", "", kerr.GroupAuthorizationFailed
	}
	return group, member, nil
}

// shareTopicName resolves a topic id the member may READ.
func (s *Server) shareTopicName(req *wire.Request, st *raftmeta.State, id [16]byte) (string, error) {
	t := st.TopicsByID[id]
	if t == nil {
		return "", fmt.Errorf("%w: %s", errUnknownTopicID, formatTopicID(id))
	}
	if !s.authorize(req, acl.OpRead, acl.ResourceTopic, t.Name) {
		return "", kerr.TopicAuthorizationFailed
	}
	return t.Name, nil
}

func (s *Server) handleShareFetch(ctx context.Context, req *wire.Request, r *kmsg.ShareFetchRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ShareFetchResponse)
	resp.AcquisitionLockTimeoutMillis = int32(s.shares.LockDuration().Milliseconds())
	fail := func(err error) kmsg.Response {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		return resp
	}
	group, member, err := s.shareMember(req, r.GroupID, r.MemberID)
	if err != nil {
		return fail(err)
	}
	var fetchParts, forget []share.TopicPartition
	hasAcks := false
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			fetchParts = append(fetchParts, share.TopicPartition{TopicID: t.TopicID, Partition: p.Partition})
			hasAcks = hasAcks || len(p.AcknowledgementBatches) > 0
		}
	}
	for _, t := range r.ForgottenTopicsData {
		for _, p := range t.Partitions {
			forget = append(forget, share.TopicPartition{TopicID: t.TopicID, Partition: p})
		}
	}
	switch epoch := r.ShareSessionEpoch; {
	case epoch == 0 && hasAcks:
		err = fmt.Errorf("%w: acknowledgements in a request opening a share session", errInvalidRequest)
	case epoch == 0:
		err = s.shares.OpenSession(ctx, group, member, fetchParts)
	case epoch == -1:
		err = s.shares.CheckClose(group, member)
	case epoch < -1:
		err = fmt.Errorf("%w: share session epoch %d", share.ErrInvalidSessionEpoch, epoch)
	default:
		err = s.shares.UpdateSession(group, member, epoch, fetchParts, forget)
	}
	if err != nil {
		return fail(err)
	}
	var ans shareAnswers
	st := s.meta.State()
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if len(p.AcknowledgementBatches) == 0 {
				continue
			}
			tp := share.TopicPartition{TopicID: t.TopicID, Partition: p.Partition}
			rp := ans.get(tp)
			aerr := s.shareAck(ctx, req, st, group, member, tp, shareAcks(p.AcknowledgementBatches))
			rp.AcknowledgeErrorCode, rp.AcknowledgeErrorMessage = errorCode(aerr), errorMessage(aerr)
		}
	}
	if r.ShareSessionEpoch == -1 {
		s.shares.CloseSession(ctx, group, member)
	} else {
		s.serveShareFetch(ctx, req, r, group, member, &ans)
	}
	s.finishShareFetch(req, resp, &ans)
	return resp
}

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// shareAckBatch is an acknowledgement batch of ShareFetch or
// ShareAcknowledge: the two requests carry the same fields.
type shareAckBatch interface {
	kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch | kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch
}

// shareAcks converts one partition's acknowledgement batches, of either
// request, to what the share package applies.
func shareAcks[B shareAckBatch](batches []B) []share.Ack {
	acks := make([]share.Ack, 0, len(batches))
	for _, b := range batches {
		fb := kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch(b)
		acks = append(acks, share.Ack{First: fb.FirstOffset, Last: fb.LastOffset, Types: fb.AcknowledgeTypes})
	}
	return acks
}

// shareAck applies one partition's acknowledgements.
func (s *Server) shareAck(ctx context.Context, req *wire.Request, st *raftmeta.State, group, member string, tp share.TopicPartition, acks []share.Ack) error {
	name, err := s.shareTopicName(req, st, tp.TopicID)
	if err != nil {
		return err
	}
	sp, _, err := s.sharePartitionAt(ctx, group, name, tp)
	if err != nil {
		return err
	}
	return sp.Acknowledge(ctx, member, acks)
}

// sharePartitionAt returns group's share-partition of tp (named name) on
// this broker, which must lead it.
func (s *Server) sharePartitionAt(ctx context.Context, group, name string, tp share.TopicPartition) (*share.SharePartition, *replica.Partition, error) {
	part := s.replicas.Get(name, tp.Partition)
	if part == nil || !part.IsLeader() {
		return nil, nil, fmt.Errorf("%w: %s/%d", replica.ErrNotLeader, name, tp.Partition)
	}
	k := share.Key{Group: group, TopicID: tp.TopicID, Partition: tp.Partition}
	sp, err := s.shares.Get(ctx, k, part.LeaderEpoch(), func() int64 {
		if s.shareAutoOffsetReset(group) == "earliest" {
			return part.LogStartOffset()
		}
		return part.HighWatermark()
	})
	return sp, part, err
}

// shareBudget is what a ShareFetch response may still take: bytes and
// records (limited false: no record limit), spent across the passes of a
// long poll, since records acquired in one pass stay acquired.
type shareBudget struct {
	bytes, records int
	limited        bool
	got            int // bytes acquired so far
}

func (b *shareBudget) spent() bool { return b.bytes <= 0 || (b.limited && b.records <= 0) }

// serveShareFetch acquires records on the session's partitions, waiting
// as a long poll asks until MinBytes of records are acquired.
func (s *Server) serveShareFetch(ctx context.Context, req *wire.Request, r *kmsg.ShareFetchRequest, group, member string, ans *shareAnswers) {
	maxWait := time.Duration(max(r.MaxWaitMillis, 0)) * time.Millisecond
	deadline := time.Now().Add(maxWait)
	b := &shareBudget{bytes: int(s.cfg.FetchMaxBytes), records: int(r.MaxRecords), limited: r.MaxRecords > 0}
	if r.MaxBytes > 0 {
		b.bytes = min(b.bytes, int(r.MaxBytes))
	}
	for {
		changed, released := s.replicas.Changed(), s.shares.Changed()
		anyErr := s.fillShareFetch(ctx, req, group, member, b, ans)
		if (b.got > 0 && b.got >= int(r.MinBytes)) || anyErr || maxWait == 0 || b.spent() {
			return
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-changed:
		case <-released:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
		if time.Now().After(deadline) && b.got > 0 {
			return
		}
	}
}

// fillShareFetch makes one acquisition pass over the session's
// partitions within budget b; anyErr reports a partition error.
func (s *Server) fillShareFetch(ctx context.Context, req *wire.Request, group, member string, b *shareBudget, ans *shareAnswers) (anyErr bool) {
	st := s.meta.State()
	for _, tp := range s.shares.SessionParts(group, member) {
		if b.spent() {
			return anyErr
		}
		records := 0
		if b.limited {
			records = b.records
		}
		recs, acquired, err := s.shareAcquire(ctx, req, st, group, member, tp, b.bytes, records)
		if err != nil {
			rp := ans.get(tp)
			rp.ErrorCode, rp.ErrorMessage = errorCode(err), errorMessage(err)
			anyErr = true
			continue
		}
		if len(acquired) == 0 {
			continue
		}
		rp := ans.get(tp)
		for _, fb := range recs {
			// A later pass of a long poll may acquire more records of a
			// batch already in the answer: it is sent once.
			if ans.addBatch(tp, fb) {
				b.bytes -= len(fb.raw)
				b.got += len(fb.raw)
			}
		}
		for _, a := range acquired {
			ar := kmsg.NewShareFetchResponseTopicPartitionAcquiredRecord()
			ar.FirstOffset, ar.LastOffset, ar.DeliveryCount = a.First, a.Last, a.DeliveryCount
			rp.AcquiredRecords = append(rp.AcquiredRecords, ar)
			b.records -= int(a.Last - a.First + 1)
		}
	}
	return anyErr
}

// shareAcquire reads tp from its share-partition's fetch offset and
// acquires what it can; it returns the batches holding acquired records.
func (s *Server) shareAcquire(ctx context.Context, req *wire.Request, st *raftmeta.State, group, member string, tp share.TopicPartition, maxBytes, maxRecords int) ([]fetchedBatch, []share.Range, error) {
	name, err := s.shareTopicName(req, st, tp.TopicID)
	if err != nil {
		return nil, nil, err
	}
	sp, part, err := s.sharePartitionAt(ctx, group, name, tp)
	if err != nil {
		return nil, nil, err
	}
	off, err := sp.FetchOffset(ctx, part.LogStartOffset())
	if err != nil {
		return nil, nil, err
	}
	if off >= part.HighWatermark() {
		return nil, nil, nil
	}
	res, err := part.Fetch(off, maxBytes, false)
	if err != nil {
		return nil, nil, err
	}
	batches, raw := batchRanges(res.Records)
	acquired := sp.Acquire(member, batches, maxRecords)
	var out []fetchedBatch
	for i, b := range batches {
		if overlaps(b, acquired) {
			out = append(out, fetchedBatch{base: b.First, raw: raw[i]})
		}
	}
	return out, acquired, nil
}

// fetchedBatch is a stored batch holding acquired records.
type fetchedBatch struct {
	base int64
	raw  []byte
}

// batchRanges splits whole v2 batches (a trailing partial one is dropped)
// into their offset ranges and bytes.
func batchRanges(data []byte) ([]share.Range, [][]byte) {
	var rs []share.Range
	var raw [][]byte
	for len(data) >= 61 {
		n := 12 + int64(int32(binary.BigEndian.Uint32(data[8:12])))
		if n < 61 || n > int64(len(data)) {
			break
		}
		base := int64(binary.BigEndian.Uint64(data[0:8]))
		attrs := binary.BigEndian.Uint16(data[21:23])
		last := base + int64(int32(binary.BigEndian.Uint32(data[23:27])))
		rs = append(rs, share.Range{First: base, Last: last, Control: attrs&0x20 != 0})
		raw = append(raw, data[:n])
		data = data[n:]
	}
	return rs, raw
}

func overlaps(b share.Range, runs []share.Range) bool {
	for _, r := range runs {
		if r.First <= b.Last && r.Last >= b.First {
			return true
		}
	}
	return false
}

// finishShareFetch assembles the answers into resp with leader hints.
func (s *Server) finishShareFetch(req *wire.Request, resp *kmsg.ShareFetchResponse, ans *shareAnswers) {
	h := &leaderHints{st: s.meta.State(), conn: req.Conn}
	byTopic := map[[16]byte]int{}
	for _, tp := range ans.order {
		rp := ans.parts[tp]
		ans.records(tp, rp)
		if wantsLeaderHint(rp.ErrorCode) || wantsLeaderHint(rp.AcknowledgeErrorCode) {
			if t := h.st.TopicsByID[tp.TopicID]; t != nil {
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = h.leader(t.Name, tp.Partition)
			}
		}
		i, ok := byTopic[tp.TopicID]
		if !ok {
			i = len(resp.Topics)
			byTopic[tp.TopicID] = i
			rt := kmsg.NewShareFetchResponseTopic()
			rt.TopicID = tp.TopicID
			resp.Topics = append(resp.Topics, rt)
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, *rp)
	}
	for _, b := range h.nodes {
		ne := kmsg.NewShareFetchResponseNodeEndpoint()
		ne.NodeID = b.ID
		ne.Host, ne.Port, ne.Rack = advertisedEndpoint(b, h.conn)
		resp.NodeEndpoints = append(resp.NodeEndpoints, ne)
	}
}
