package server

// Fetch (key 1), v4-v16.
//
// Records are served as stored, never decoded or re-encoded, and from the
// active segment without copying: the response carries placeholders that the
// connection swaps for sendfile(2) of the segment file (wire.Request.Splice). Consumers read up
// to the high watermark; replicas (ReplicaID >= 0) up to the log end. Long
// poll: if fewer than MinBytes are ready the request waits up to MaxWaitMillis
// for any high watermark on the broker to move, then reads again. Size limits:
// MaxBytes (v3+) over the response and PartitionMaxBytes per partition, but
// the first batch found is always returned whole even when larger (KIP-74),
// so a consumer can never get stuck behind a big batch. v9+
// CurrentLeaderEpoch is checked (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH).
// v13+ name topics by ID; an unknown ID is UNKNOWN_TOPIC_ID. Incremental
// fetch sessions (KIP-227, v7+) are declined the way the KIP allows: every
// response has SessionID 0, so clients keep sending full requests; an
// incremental request (SessionEpoch > 0) gets FETCH_SESSION_ID_NOT_FOUND, a
// full one naming a session (epoch 0, or -1 "final") is served in full. Transactions are not
// implemented, so LastStableOffset equals the high watermark and there are no
// aborted transactions. A partition unknown or not led here is looked up
// again, once per request, after catching up with the controller
// (catchup.go).

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/storage"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleFetch(ctx context.Context, req *wire.Request, r *kmsg.FetchRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	resp.Version = r.Version
	if r.SessionEpoch > 0 {
		// An incremental fetch in a session we never created. A full
		// fetch (epoch 0, or -1 "final") naming a session is answered in
		// full, as Kafka closes the session then (kafka-go sends -1/-1).
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp
	}
	maxWait := time.Duration(max(r.MaxWaitMillis, 0)) * time.Millisecond
	deadline := time.Now().Add(maxWait)
	maxBytes := int(r.MaxBytes)
	if r.Version < 3 || maxBytes <= 0 {
		maxBytes = 50 << 20
	}
	replicaID := r.ReplicaID
	if r.Version >= 15 {
		replicaID = r.ReplicaState.ID
	}
	isReplica := replicaID >= 0
	caughtUp := false
	for {
		// Take the change channel before reading so no append is missed.
		// Followers wake on appends (they read past the high watermark),
		// consumers when the high watermark moves.
		changed := s.replicas.Changed()
		if isReplica {
			changed = s.replicas.ReplicaChanged()
		}
		total, anyErr := s.fillFetch(req, resp, r, maxBytes, replicaID)
		if anyErr && !caughtUp && fetchMissed(resp) {
			caughtUp = true
			req.DropSplices() // this answer is discarded; fill again
			s.catchUp(ctx)
			continue
		}
		if total >= int(r.MinBytes) || anyErr || maxWait == 0 || total >= maxBytes {
			return resp
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return resp
		}
		req.DropSplices() // this answer is discarded; the next fill reads again
		t := time.NewTimer(wait)
		select {
		case <-changed:
			t.Stop()
		case <-t.C:
			s.fillFetch(req, resp, r, maxBytes, replicaID)
			return resp
		case <-ctx.Done():
			t.Stop()
			return resp
		}
	}
}

// fillFetch (re)builds resp.Topics from the request; it returns the bytes of
// records gathered and whether any partition carries an error (which makes
// Kafka answer at once).
// fetchMissed reports whether a partition was refused as unknown or not led
// here, which metadata that has not caught up can cause.
func fetchMissed(resp *kmsg.FetchResponse) bool {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if isMissCode(p.ErrorCode) {
				return true
			}
		}
	}
	return false
}

func (s *Server) fillFetch(req *wire.Request, resp *kmsg.FetchResponse, r *kmsg.FetchRequest, maxBytes int, replicaID int32) (int, bool) {
	st := s.meta.State()
	resp.Topics = resp.Topics[:0]
	total := 0
	anyErr := false
	for _, rt := range r.Topics {
		ft := kmsg.NewFetchResponseTopic()
		ft.Topic = rt.Topic
		ft.TopicID = rt.TopicID
		var t *raftmeta.Topic
		var topicErr error
		if r.Version >= 13 {
			if t = st.TopicsByID[rt.TopicID]; t == nil {
				topicErr = errUnknownTopicID
			} else {
				ft.Topic = t.Name
			}
		} else if t = st.Topics[rt.Topic]; t == nil {
			topicErr = errUnknownTopic
		}
		for _, rp := range rt.Partitions {
			fp := kmsg.NewFetchResponseTopicPartition()
			fp.Partition = rp.Partition
			fp.HighWatermark = -1
			fp.LastStableOffset = -1
			fp.LogStartOffset = -1
			fp.RecordBatches = []byte{}
			err := topicErr
			var n int
			if err == nil {
				n, err = s.fetchPartition(req, &fp, t, rp, maxBytes-total, total == 0, replicaID)
			}
			if err != nil {
				fp.ErrorCode = errorCode(err)
				anyErr = true
			}
			total += n
			ft.Partitions = append(ft.Partitions, fp)
		}
		resp.Topics = append(resp.Topics, ft)
	}
	return total, anyErr
}

// fetchPartition fills one partition of the response and returns the bytes of
// records it carries (spliced from a file or copied).
func (s *Server) fetchPartition(req *wire.Request, fp *kmsg.FetchResponseTopicPartition, t *raftmeta.Topic, rp kmsg.FetchRequestTopicPartition, budget int, first bool, replicaID int32) (int, error) {
	toLEO := replicaID >= 0
	if rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
		return 0, errUnknownTopic
	}
	part := s.replicas.Get(t.Name, rp.Partition)
	if part == nil || !part.IsLeader() {
		return 0, kerr.NotLeaderForPartition
	}
	if rp.CurrentLeaderEpoch >= 0 {
		switch cur := part.LeaderEpoch(); {
		case rp.CurrentLeaderEpoch < cur:
			return 0, kerr.FencedLeaderEpoch
		case rp.CurrentLeaderEpoch > cur:
			return 0, kerr.UnknownLeaderEpoch
		}
	}
	limit := min(int(rp.PartitionMaxBytes), budget)
	if limit <= 0 && !first {
		// Out of response budget: report offsets without records.
		fp.HighWatermark = part.HighWatermark()
		fp.LastStableOffset = fp.HighWatermark
		fp.LogStartOffset = part.LogStartOffset()
		return 0, nil
	}
	if first {
		limit = max(limit, 1) // KIP-74: at least one whole batch
	}
	res, sl, ok, err := part.FetchSlice(rp.FetchOffset, limit, toLEO)
	if err == nil && !ok {
		res, err = part.Fetch(rp.FetchOffset, limit, toLEO)
		sl = storage.Slice{}
		fp.RecordBatches = res.Records
	}
	fp.HighWatermark = res.HighWatermark
	fp.LastStableOffset = res.LastStable
	fp.LogStartOffset = res.LogStartOffset
	if toLEO && err == nil {
		// A follower's fetch offset is its log end: it may move the high
		// watermark, which the follower then learns in this very answer.
		part.RecordFollowerFetch(replicaID, rp.FetchOffset, time.Now())
		fp.HighWatermark = part.HighWatermark()
		fp.LastStableOffset = fp.HighWatermark
	}
	if err != nil {
		if !errors.Is(err, storage.ErrOffsetOutOfRange) {
			s.logger.Error("fetch failed", "topic", t.Name, "partition", rp.Partition, "err", err)
		}
		return 0, err
	}
	if sl.Len > 0 {
		fp.RecordBatches = req.Splice(wire.FileRange{File: sl.File, Offset: sl.Pos, Length: sl.Len})
		return int(sl.Len), nil
	}
	if fp.RecordBatches == nil {
		// Kafka sends an empty records field, never a null one: librdkafka
		// rejects null ("invalid MessageSetSize -1").
		fp.RecordBatches = []byte{}
	}
	return len(fp.RecordBatches), nil
}
