package server

// Produce (key 0), v3-v13.
//
// v3+ carries record batch v2 (Kafka 4 dropped older versions too, KIP-896).
// Batches are validated and stored as received; offsets are assigned by
// rewriting each batch's base offset (outside the CRC). acks=0 gets no
// response at all; acks=1 returns once the leader appended (and fsynced, with
// log.fsync=always); acks=-1 waits for the in-sync replicas up to
// TimeoutMillis, then REQUEST_TIMED_OUT. Idempotent batches are checked per
// (producer id, epoch) sequence: a retry of one of the last five batches is
// answered with its original offsets, a gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
// Transactional batches are appended and tracked by the partition (open
// transactions, last stable offset; replica/txn.go); the request's
// TransactionalID needs WRITE on it (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
// A producer's first transactional batch on a partition in a transaction is
// appended only once its coordinator confirmed the partition is in the
// transaction (KIP-890 verification, txn_verify.go): INVALID_TXN_STATE
// otherwise, PRODUCER_FENCED for a superseded epoch. Control batches from clients are
// INVALID_RECORD. v8+ ErrorMessage says what went wrong.
// Each topic needs WRITE (TOPIC_AUTHORIZATION_FAILED, checked before the
// topic's existence, as Kafka). Produce never auto-creates topics (Kafka creates them from Metadata only).
// A partition this broker does not know or lead is tried again once after
// catching up with the controller (catchup.go), so a producer that learnt
// of a new topic or leader from a fresher broker is not refused; only then
// is it UNKNOWN_TOPIC_OR_PARTITION or NOT_LEADER_OR_FOLLOWER. v10+ (KIP-951)
// NOT_LEADER_OR_FOLLOWER answers name the current leader and its endpoint
// (leaderhint.go), from the metadata as it is when the answer is final.
// v13+ (KIP-516) names topics by ID only: an ID this broker does not know
// (after catching up) is UNKNOWN_TOPIC_ID, so a producer whose topic was
// deleted and re-created under the same name never writes into the new one;
// the answer names topics by ID too. Authorization is on the resolved name.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/wire"
)

// pendingAck is an appended partition whose acks=all wait is deferred.
type pendingAck struct {
	topic, partition int // indexes into resp.Topics[].Partitions[]
	wait             func(context.Context) error
}

func (s *Server) handleProduce(ctx context.Context, req *wire.Request, r *kmsg.ProduceRequest, start time.Time) (kmsg.Response, error) {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	resp.Version = r.Version

	var topErr error
	switch {
	case r.Acks != 0 && r.Acks != 1 && r.Acks != -1:
		topErr = kerr.InvalidRequiredAcks
	case r.TransactionID != nil && !s.authorize(req, acl.OpWrite, acl.ResourceTransactionalID, *r.TransactionID):
		topErr = kerr.TransactionalIDAuthorizationFailed
	}
	// Appends happen here, in request order. Waiting for the acks level
	// (an fsync and the in-sync replicas, for acks=all) happens afterwards and, when
	// there is anything to wait for, off the connection's serve loop, so
	// that a client's next produce is appended meanwhile; responses still
	// leave in order (wire.Request.Defer).
	var waits []pendingAck
	var missed []pendingAck // partitions refused by metadata that may lag
	st := s.meta.State()
	// topicErr resolves rt (v13+ names it by ID) and checks WRITE on it.
	topicErr := func(rt *kmsg.ProduceRequestTopic) error {
		if topErr != nil {
			return topErr
		}
		if err := resolveProduceTopic(st, r, rt); err != nil {
			return err
		}
		if !s.authorize(req, acl.OpWrite, acl.ResourceTopic, rt.Topic) {
			return fmt.Errorf("%w: WRITE on topic %s", errTopicAuthorization, rt.Topic)
		}
		return nil
	}
	for i := range r.Topics {
		rt := &r.Topics[i]
		terr := topicErr(rt)
		pt := kmsg.NewProduceResponseTopic()
		pt.Topic, pt.TopicID = rt.Topic, rt.TopicID
		for j, rp := range rt.Partitions {
			pp, wait, err := s.producePartition(st, r, rt.Topic, rp, terr)
			pt.Partitions = append(pt.Partitions, pp)
			if isMiss(err) {
				missed = append(missed, pendingAck{topic: i, partition: j})
			}
			s.recordAppend(r, &pt.Partitions[j], rt.Topic, i, j, wait, err, &waits)
		}
		resp.Topics = append(resp.Topics, pt)
	}
	if len(missed) > 0 {
		// Catch up with the controller once, then try those partitions
		// again: the client may know of them from a fresher broker.
		s.catchUp(ctx)
		st = s.meta.State()
		for _, m := range missed {
			rt := &r.Topics[m.topic]
			terr := topicErr(rt) // st is newer: a v13 topic id may resolve now
			resp.Topics[m.topic].Topic = rt.Topic
			pp, wait, err := s.producePartition(st, r, rt.Topic, rt.Partitions[m.partition], terr)
			resp.Topics[m.topic].Partitions[m.partition] = pp
			s.recordAppend(r, &resp.Topics[m.topic].Partitions[m.partition], rt.Topic, m.topic, m.partition, wait, err, &waits)
		}
	}
	resp.ThrottleMillis = s.produceThrottle(req, r, start) // quota.go
	if r.Acks == 0 {
		return nil, nil
	}
	if len(waits) == 0 {
		s.addProduceLeaderHints(req, resp) // leaderhint.go
		return resp, nil
	}
	finish := req.Defer()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.awaitAcks(ctx, r, resp, waits)
		s.addProduceLeaderHints(req, resp)
		finish(resp, nil)
	}()
	return nil, nil
}

// resolveProduceTopic fills in the name of a topic a v13+ request names by
// ID (the name every later step, from ACLs to quotas, works with), or
// returns UNKNOWN_TOPIC_ID. Older versions name topics and pass as they are.
func resolveProduceTopic(st *raftmeta.State, r *kmsg.ProduceRequest, rt *kmsg.ProduceRequestTopic) error {
	if r.Version < 13 {
		return nil
	}
	t := st.TopicsByID[rt.TopicID]
	if t == nil {
		rt.Topic = ""
		return fmt.Errorf("%w: %s", errUnknownTopicID, formatTopicID(rt.TopicID))
	}
	rt.Topic = t.Name
	return nil
}

// recordAppend notes one partition's append outcome: its error in the
// response, or, for acks=all, the wait to run before answering.
func (s *Server) recordAppend(r *kmsg.ProduceRequest, pp *kmsg.ProduceResponseTopicPartition, topic string, ti, pi int, wait func(context.Context) error, err error, waits *[]pendingAck) {
	switch {
	case err != nil:
		s.setProduceError(r, topic, pp, err)
	case wait != nil:
		*waits = append(*waits, pendingAck{topic: ti, partition: pi, wait: wait})
	}
}

// producePartition appends one partition's records (unless topErr or a
// check refuses them) and returns its response entry and, for acks=all, the
// wait for the in-sync replicas.
func (s *Server) producePartition(st *raftmeta.State, r *kmsg.ProduceRequest, topic string, rp kmsg.ProduceRequestTopicPartition, topErr error) (kmsg.ProduceResponseTopicPartition, func(context.Context) error, error) {
	pp := kmsg.NewProduceResponseTopicPartition()
	pp.Partition = rp.Partition
	pp.BaseOffset = -1
	pp.LogAppendTime = -1
	pp.LogStartOffset = -1
	if topErr != nil {
		return pp, nil, topErr
	}
	t := st.Topics[topic]
	switch {
	case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions):
		return pp, nil, fmt.Errorf("%w: %s/%d", errUnknownTopic, topic, rp.Partition)
	case t.Internal: // only the coordinator writes internal topics, as in Kafka
		return pp, nil, fmt.Errorf("%w: %s is an internal topic", errInvalidTopic, topic)
	}
	part := s.replicas.Get(topic, rp.Partition)
	if part == nil {
		return pp, nil, kerr.NotLeaderForPartition
	}
	// One parse (framing and CRC) serves the checks below and the
	// append. Batches that do not parse are refused by the partition,
	// after its leadership checks, with the precise error.
	pb := replica.ParseProduce(rp.Records)
	if hs, perr := pb.Headers(); perr == nil {
		if part.Compacted() {
			if err := checkKeys(rp.Records, hs); err != nil { // compactkeys.go
				return pp, nil, err
			}
		}
		if err := checkRecordCounts(rp.Records, hs); err != nil { // recordcount.go
			return pp, nil, err
		}
	}
	if err := s.verifyTxnProduce(r, topic, rp.Partition, part, rp.Records); err != nil { // txn_verify.go
		return pp, nil, err
	}
	res, wait, err := part.ProduceParsedAsync(pb, r.Acks)
	if err == nil {
		s.metrics.produced(topic, rp.Records, res.Duplicate) // metrics.go
		pp.BaseOffset = res.BaseOffset
		pp.LogStartOffset = res.LogStartOffset
	}
	return pp, wait, err
}

// awaitAcks runs, within the request's timeout, the wait of every appended
// partition that has one (an fsync, the in-sync replicas of acks=all), and
// records the failures in resp.
func (s *Server) awaitAcks(ctx context.Context, r *kmsg.ProduceRequest, resp *kmsg.ProduceResponse, waits []pendingAck) {
	wctx, cancel := context.WithTimeout(ctx, requestTimeout(r.TimeoutMillis))
	defer cancel()
	one := func(w pendingAck) {
		if err := w.wait(wctx); err != nil {
			pt := &resp.Topics[w.topic]
			pp := &pt.Partitions[w.partition] // each wait writes only its own
			pp.BaseOffset = -1
			s.setProduceError(r, pt.Topic, pp, err)
		}
	}
	if len(waits) == 1 {
		one(waits[0])
		return
	}
	// Side by side: each may fsync its partition first, and fsyncs of
	// different files overlap rather than queue.
	var wg sync.WaitGroup
	for _, w := range waits {
		wg.Go(func() { one(w) })
	}
	wg.Wait()
}

// setProduceError records err on one partition of a produce response.
func (s *Server) setProduceError(r *kmsg.ProduceRequest, topic string, pp *kmsg.ProduceResponseTopicPartition, err error) {
	pp.ErrorCode = errorCode(err)
	s.metrics.requestError(r.Key(), pp.ErrorCode) // metrics.go
	if r.Version >= 8 {
		pp.ErrorMessage = errorMessage(err)
	}
	if pp.ErrorCode == kerr.UnknownServerError.Code || pp.ErrorCode == kerr.KafkaStorageError.Code {
		s.logger.Error("produce failed", "topic", topic, "partition", pp.Partition, "err", err)
	}
}
