package server

// ListOffsets (key 2), v0-v10.
//
// Timestamp -1 is the latest offset (the high watermark; the last stable
// offset for IsolationLevel 1, read_committed, v2+), -2 the earliest (log
// start), -3 (v7+) the record with the largest timestamp, -4 (v8+) the
// earliest local offset, which is the log start here (no tiered storage),
// -5 (v9+, KIP-1005) the highest offset in tiered storage: with nothing
// tiered, Kafka answers offset -1, timestamp -1, leader epoch -1, and so do
// we. A special timestamp below the version that introduced it, or any other
// negative one, is UNSUPPORTED_VERSION for that partition, as in Kafka.
// v10 (KIP-1075) adds TimeoutMillis, the longest the broker may take, meant
// for remote-storage lookups: there are none here, so the only wait it can
// bound is the catch-up with the controller for a partition unknown or not
// led here, which it does. Any other value finds the first record whose timestamp is >= it: the
// time index finds the batch, then that one batch is decoded to pick the
// record. No match gives offset -1. v0 returns the answer in OldStyleOffsets. v4+
// checks CurrentLeaderEpoch and returns the leader epoch. A partition unknown
// or not led here is answered again after catching up with the controller
// (catchup.go).

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleListOffsets(ctx context.Context, req *wire.Request, r *kmsg.ListOffsetsRequest) kmsg.Response {
	resp, missed := s.listOffsets(req, r)
	if missed {
		// Unknown or not led here: maybe only not yet. Catch up once,
		// within the request's own timeout (v10+).
		if r.Version >= 10 && r.TimeoutMillis > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(r.TimeoutMillis)*time.Millisecond)
			defer cancel()
		}
		s.catchUp(ctx)
		resp, _ = s.listOffsets(req, r)
	}
	return resp
}

// listOffsets answers r from the current state; missed reports a partition
// refused as unknown or not led here.
func (s *Server) listOffsets(req *wire.Request, r *kmsg.ListOffsetsRequest) (_ *kmsg.ListOffsetsResponse, missed bool) {
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	resp.Version = r.Version
	st := s.meta.State()
	for _, rt := range r.Topics {
		lt := kmsg.NewListOffsetsResponseTopic()
		lt.Topic = rt.Topic
		t := st.Topics[rt.Topic]
		denied := !s.authorize(req, acl.OpDescribe, acl.ResourceTopic, rt.Topic)
		for _, rp := range rt.Partitions {
			lp := kmsg.NewListOffsetsResponseTopicPartition()
			lp.Partition = rp.Partition
			lp.Offset = -1
			lp.Timestamp = -1
			lp.LeaderEpoch = -1
			var err error
			switch {
			case denied:
				err = errTopicAuthorization
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions):
				err = errUnknownTopic
			default:
				err = s.listOffset(&lp, rt.Topic, rp, r.Version, r.IsolationLevel == 1)
			}
			if err != nil {
				lp.ErrorCode = errorCode(err)
				missed = missed || isMiss(err)
			}
			if r.Version == 0 && err == nil && lp.Offset >= 0 && rp.MaxNumOffsets > 0 {
				lp.OldStyleOffsets = []int64{lp.Offset}
			}
			lt.Partitions = append(lt.Partitions, lp)
		}
		resp.Topics = append(resp.Topics, lt)
	}
	return resp, missed
}

// specialTimestampVersion is the first ListOffsets version that knows each
// special (negative) timestamp (Kafka's ReplicaManager table).
var specialTimestampVersion = map[int64]int16{-1: 0, -2: 0, -3: 7, -4: 8, -5: 9}

func (s *Server) listOffset(lp *kmsg.ListOffsetsResponseTopicPartition, topic string, rp kmsg.ListOffsetsRequestTopicPartition, version int16, committed bool) error {
	if rp.Timestamp < 0 {
		if v, ok := specialTimestampVersion[rp.Timestamp]; !ok || version < v {
			return fmt.Errorf("%w: timestamp %d at ListOffsets v%d", kerr.UnsupportedVersion, rp.Timestamp, version)
		}
	}
	part := s.replicas.Get(topic, rp.Partition)
	if part == nil || !part.IsLeader() {
		return kerr.NotLeaderForPartition
	}
	epoch := part.LeaderEpoch()
	if rp.CurrentLeaderEpoch >= 0 {
		switch {
		case rp.CurrentLeaderEpoch < epoch:
			return kerr.FencedLeaderEpoch
		case rp.CurrentLeaderEpoch > epoch:
			return kerr.UnknownLeaderEpoch
		}
	}
	lp.LeaderEpoch = epoch
	switch rp.Timestamp {
	case -1:
		lp.Offset = part.HighWatermark()
		if committed {
			lp.Offset = part.LastStableOffset()
		}
	case -2, -4:
		lp.Offset = part.LogStartOffset()
	case -5: // nothing is ever tiered: Kafka's answer without remote storage
		lp.LeaderEpoch = -1
	case -3:
		off, ts, err := part.MaxTimestamp()
		if err != nil {
			return err
		}
		lp.Offset, lp.Timestamp = off, ts
	default:
		off, ts, found, err := part.OffsetForTimestamp(rp.Timestamp)
		if err != nil {
			return err
		}
		if found {
			lp.Offset, lp.Timestamp = exactTimestampOffset(part, off, ts, rp.Timestamp)
		}
	}
	return nil
}
