package server

// Fetch (key 1), v4-v18.
//
// Records are served as stored, never decoded or re-encoded, and from the
// active segment without copying: the response carries placeholders that the
// connection swaps for sendfile(2) of the segment file (wire.Request.Splice). Consumers read up
// to the high watermark; replicas (ReplicaID >= 0) up to the log end. Long
// poll: if fewer than MinBytes are ready the request waits up to MaxWaitMillis
// for any high watermark on the broker to move (a replica fetch: for any
// append), then reads again; a replica fetch also answers, with no records,
// once a partition's high watermark passes the one the follower was last
// told, so followers learn it within a round trip. Size limits:
// MaxBytes (v3+, capped at fetch.max.bytes) over the response and
// PartitionMaxBytes per partition, but the first batch found is always
// returned whole even when larger (KIP-74), so a consumer can never get stuck
// behind a big batch; no later partition exceeds its limits. A partition
// named twice is answered once, for its last entry (Kafka keys the request
// by partition). At most fetchMaxFiles segment files are spliced per
// response; further partitions are copied. A replica fetch is honoured only
// from an assigned, live follower at v15+ carrying its current broker
// epoch in ReplicaState (checkFollower). v9+
// CurrentLeaderEpoch is checked (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH),
// and a replica fetch whose LastFetchedEpoch is above this leader's epoch
// (the follower has a newer leader's records: this leader is deposed) is
// UNKNOWN_LEADER_EPOCH and never moves the high watermark. v13+ name topics
// by ID; an unknown ID is UNKNOWN_TOPIC_ID. Incremental fetch sessions
// (KIP-227, v7+; fetchsession.go): a full fetch at SessionEpoch 0 may get
// a session (epoch 0 naming a session closes it first; epoch -1 is a
// sessionless fetch and closes the session it names); an incremental one
// (epoch > 0) is served as a fetch of every
// partition in its session, omitted ones at their cached parameters (for a
// follower its cached fetch offset is its position: it is checked and
// counted toward the high watermark like a named one), and answered with
// only the partitions that have records, a changed high watermark, log
// start or last stable offset, or an error; it long-polls like a full one.
// Session errors are top-level: FETCH_SESSION_ID_NOT_FOUND,
// INVALID_FETCH_SESSION_EPOCH (also for a fetch whose session moved on
// while it waited), FETCH_SESSION_TOPIC_ID_ERROR (a session continued
// across the v13 topic-ID boundary). IsolationLevel 1 (read_committed)
// reads up to the last stable offset and lists the aborted transactions
// overlapping the range (fetch_txn.go); LastStableOffset is always the
// partition's. A partition unknown or not led here is looked up
// again, once per request, after catching up with the controller
// (catchup.go). v16+ (KIP-951) NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH
// answers name the current leader and its endpoint (leaderhint.go).
// v17 (KIP-853) adds a follower's ReplicaDirectoryID, which Kafka brokers
// use only for the KRaft metadata log and ignore for partitions, as Strom
// does (one data directory per broker, nothing to tell apart). v18
// (KIP-1166) adds the HighWatermark a follower knows per partition: a
// replica fetch that tells one below this leader's is answered at once
// instead of parking, so the follower learns the new high watermark within
// a round trip (Long.MaxValue, "not supported", and consumers' values are
// not used).

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/replica"
	"github.com/strombroker/strom/storage"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleFetch(ctx context.Context, req *wire.Request, r *kmsg.FetchRequest, start time.Time) kmsg.Response {
	resp, fc, waited := s.fetch(ctx, req, r)
	if s.fetchThrottle(req, r, resp, start, waited) { // quota.go
		// Over a quota: an empty answer (KIP-219), and the fetch
		// session left as the request found it (Kafka's
		// getThrottledResponse): a full fetch gets no session.
		req.DropSplices()
		resp.Topics = nil
		resp.SessionID = 0
		if fc != nil && fc.sess != nil && resp.ErrorCode == 0 {
			resp.SessionID = fc.sess.id
		}
	} else if fc != nil {
		fc.finish(req, r, resp)
	}
	s.metrics.fetched(req, r, resp)  // metrics.go
	s.addFetchLeaderHints(req, resp) // leaderhint.go
	return resp
}

// fetch builds the answer to a Fetch, long-polling and catching up as
// needed, and returns it with its session context (nil when the session
// was refused; the caller finishes it) and the time it spent waiting.
func (s *Server) fetch(ctx context.Context, req *wire.Request, r *kmsg.FetchRequest) (*kmsg.FetchResponse, *fetchContext, time.Duration) {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	resp.Version = r.Version
	replicaID := r.ReplicaID
	if r.Version >= 15 {
		replicaID = r.ReplicaState.ID
	}
	isReplica := replicaID >= 0
	fc, err := s.sessions.newContext(r, isReplica && s.verifiedFollower(req, r, replicaID))
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return resp, nil, 0
	}
	waited := s.serveFetch(ctx, req, fc.r, fc.sess != nil, resp, replicaID)
	return resp, fc, waited
}

// serveFetch fills resp for r (for an incremental fetch, the session's
// partitions: unique, each named once), waiting as a long poll asks; it
// returns how long it waited (not counted against request_percentage).
func (s *Server) serveFetch(ctx context.Context, req *wire.Request, r *kmsg.FetchRequest, unique bool, resp *kmsg.FetchResponse, replicaID int32) (waited time.Duration) {
	maxWait := time.Duration(max(r.MaxWaitMillis, 0)) * time.Millisecond
	deadline := time.Now().Add(maxWait)
	maxBytes := int(s.cfg.FetchMaxBytes) // fetch.max.bytes caps the request's MaxBytes
	if r.Version >= 3 && r.MaxBytes > 0 {
		maxBytes = min(maxBytes, int(r.MaxBytes))
	}
	isReplica := replicaID >= 0
	if !isReplica {
		maxBytes = s.fetchQuotaBytes(req, maxBytes) // quota.go
	}
	caughtUp := false
	if isReplica {
		defer s.noteHWSent(resp, replicaID)
	}
	for {
		// Take the change channel before reading so no append is missed.
		// Followers wake on appends (they read past the high watermark),
		// consumers when the high watermark moves.
		changed := s.replicas.Changed()
		if isReplica {
			changed = s.replicas.ReplicaChanged()
		}
		total, anyErr := s.fillFetch(req, resp, r, unique, maxBytes, replicaID)
		if anyErr && !caughtUp && fetchMissed(resp) {
			caughtUp = true
			req.DropSplices() // this answer is discarded; fill again
			s.catchUp(ctx)
			continue
		}
		if total >= int(r.MinBytes) || anyErr || maxWait == 0 || total >= maxBytes {
			return
		}
		if isReplica && (s.followerBehindHW(resp, replicaID) || replicaHWBehind(r, resp)) {
			// A follower learns the high watermark from answers only:
			// one that moved past what it was last told is worth an
			// answer (Kafka completes a follower's delayed fetch for it
			// too), or its copy lags a whole long poll behind.
			return
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return
		}
		req.DropSplices() // this answer is discarded; the next fill reads again
		t := time.NewTimer(wait)
		waitStart := time.Now()
		select {
		case <-changed:
			t.Stop()
			waited += time.Since(waitStart)
		case <-t.C:
			waited += time.Since(waitStart)
			s.fillFetch(req, resp, r, unique, maxBytes, replicaID)
			return
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// followerBehindHW reports whether a partition answered in resp has a high
// watermark above the one follower id was last told.
func (s *Server) followerBehindHW(resp *kmsg.FetchResponse, id int32) bool {
	for _, t := range resp.Topics {
		for _, fp := range t.Partitions {
			if fp.ErrorCode != 0 {
				continue
			}
			if part := s.replicas.Get(t.Topic, fp.Partition); part != nil && part.FollowerBehindHW(id) {
				return true
			}
		}
	}
	return false
}

// replicaHWBehind reports whether a v18+ replica fetch told (KIP-1166) a
// high watermark, for a partition answered without error, below the one resp
// carries for it. Partitions that told MaxInt64 ("not supported") are not
// compared.
func replicaHWBehind(r *kmsg.FetchRequest, resp *kmsg.FetchResponse) bool {
	if r.Version < 18 {
		return false
	}
	type key struct {
		id   [16]byte
		part int32
	}
	known := make(map[key]int64)
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			if rp.HighWatermark != math.MaxInt64 {
				known[key{rt.TopicID, rp.Partition}] = rp.HighWatermark
			}
		}
	}
	if len(known) == 0 {
		return false
	}
	for _, t := range resp.Topics {
		for _, fp := range t.Partitions {
			if hw, ok := known[key{t.TopicID, fp.Partition}]; ok && fp.ErrorCode == 0 && hw < fp.HighWatermark {
				return true
			}
		}
	}
	return false
}

// noteHWSent records the high watermarks resp tells follower id.
func (s *Server) noteHWSent(resp *kmsg.FetchResponse, id int32) {
	for _, t := range resp.Topics {
		for _, fp := range t.Partitions {
			if fp.ErrorCode != 0 {
				continue
			}
			if part := s.replicas.Get(t.Topic, fp.Partition); part != nil {
				part.NoteHWSent(id, fp.HighWatermark)
			}
		}
	}
}

// fetchMaxFiles caps the segment files one Fetch response holds open for
// sendfile; partitions beyond it are copied into the response instead (their
// bytes are already bounded by fetch.max.bytes). Without it a request naming
// thousands of partitions, each with a little data, would hold a descriptor
// per partition until the response is written.
const fetchMaxFiles = 64

// fetchRun is one (re)fill of a Fetch response: the request, its limits and
// what has been gathered so far.
type fetchRun struct {
	req       *wire.Request
	r         *kmsg.FetchRequest
	st        *raftmeta.State
	maxBytes  int
	replicaID int32
	total     int // record bytes gathered
	files     int // segment files registered for splicing
}

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

// fillFetch (re)builds resp.Topics from the request; it returns the bytes of
// records gathered and whether any partition carries an error (which makes
// Kafka answer at once). A partition named more than once is answered once,
// for its last entry, as Kafka does (its request is a map keyed by
// topic-partition), so repeats cannot multiply the work or the response;
// unique says r is known to name each partition once (a session's).
func (s *Server) fillFetch(req *wire.Request, resp *kmsg.FetchResponse, r *kmsg.FetchRequest, unique bool, maxBytes int, replicaID int32) (int, bool) {
	run := &fetchRun{req: req, r: r, st: s.meta.State(), maxBytes: maxBytes, replicaID: replicaID}
	var skip map[[2]int]bool
	if !unique {
		skip = fetchDuplicates(r)
	}
	resp.Topics = resp.Topics[:0]
	anyErr := false
	for ti, rt := range r.Topics {
		ft := kmsg.NewFetchResponseTopic()
		ft.Topic = rt.Topic
		ft.TopicID = rt.TopicID
		ft.Partitions = make([]kmsg.FetchResponseTopicPartition, 0, len(rt.Partitions))
		t, topicErr := fetchTopic(run, &ft, rt)
		topicErr = s.fetchAuthorized(run, t, rt.Topic, topicErr)
		for pi, rp := range rt.Partitions {
			if skip[[2]int{ti, pi}] {
				continue
			}
			fp := kmsg.NewFetchResponseTopicPartition()
			fp.Partition = rp.Partition
			fp.HighWatermark = -1
			fp.LastStableOffset = -1
			fp.LogStartOffset = -1
			fp.RecordBatches = []byte{}
			err := topicErr
			var n int
			if err == nil {
				n, err = s.fetchPartition(run, &fp, t, rp)
			}
			if err != nil {
				fp.ErrorCode = errorCode(err)
				anyErr = true
			}
			run.total += n
			ft.Partitions = append(ft.Partitions, fp)
		}
		if len(ft.Partitions) > 0 || len(rt.Partitions) == 0 {
			resp.Topics = append(resp.Topics, ft)
		}
	}
	return run.total, anyErr
}

// fetchTopic resolves a requested topic by ID (v13+) or name.
func fetchTopic(run *fetchRun, ft *kmsg.FetchResponseTopic, rt kmsg.FetchRequestTopic) (*raftmeta.Topic, error) {
	if run.r.Version >= 13 {
		t := run.st.TopicsByID[rt.TopicID]
		if t == nil {
			return nil, errUnknownTopicID
		}
		ft.Topic = t.Name
		return t, nil
	}
	if t := run.st.Topics[rt.Topic]; t != nil {
		return t, nil
	}
	return nil, errUnknownTopic
}

// fetchAuthorized applies Kafka's Fetch checks to a resolved topic (t) or
// one that failed to resolve (err): a replica fetch needs CLUSTER_ACTION on
// the cluster, a consumer READ on the topic; either is answered
// TOPIC_AUTHORIZATION_FAILED, an unknown topic named by a consumer not
// allowed to read it too (its existence is not revealed). An unknown topic
// id stays UNKNOWN_TOPIC_ID, as in Kafka.
func (s *Server) fetchAuthorized(run *fetchRun, t *raftmeta.Topic, name string, err error) error {
	if run.replicaID >= 0 {
		if !s.authorizeCluster(run.req, acl.OpClusterAction) {
			return fmt.Errorf("%w: replica fetch needs CLUSTER_ACTION on the cluster", errTopicAuthorization)
		}
		return err
	}
	if t != nil {
		name = t.Name
	} else if run.r.Version >= 13 {
		return err
	}
	if !s.authorize(run.req, acl.OpRead, acl.ResourceTopic, name) {
		return fmt.Errorf("%w: READ on topic %s", errTopicAuthorization, name)
	}
	return err
}

// fetchDuplicates returns the (topic, partition) entry indexes of r that
// name a partition again later in the request, or nil when there are none.
func fetchDuplicates(r *kmsg.FetchRequest) map[[2]int]bool {
	type key struct {
		topic string
		id    [16]byte
		part  int32
	}
	last := make(map[key][2]int)
	n := 0
	for ti, rt := range r.Topics {
		for pi, rp := range rt.Partitions {
			k := key{part: rp.Partition}
			if r.Version >= 13 {
				k.id = rt.TopicID
			} else {
				k.topic = rt.Topic
			}
			last[k] = [2]int{ti, pi}
			n++
		}
	}
	if len(last) == n {
		return nil
	}
	skip := make(map[[2]int]bool, n-len(last))
	for ti, rt := range r.Topics {
		for pi := range rt.Partitions {
			skip[[2]int{ti, pi}] = true
		}
	}
	for _, at := range last {
		delete(skip, at)
	}
	return skip
}

// fetchPartition fills one partition of the response and returns the bytes of
// records it carries (spliced from a file or copied). A replica fetch of a
// partition throttled for reassignment (throttle.go) gets at most the
// buckets' tokens (offsets only while they are empty; one whole batch at
// least otherwise, KIP-74), and is charged for the records it gets.
func (s *Server) fetchPartition(run *fetchRun, fp *kmsg.FetchResponseTopicPartition, t *raftmeta.Topic, rp kmsg.FetchRequestTopicPartition) (int, error) {
	if run.replicaID < 0 || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
		return s.fetchPartitionLimited(run, fp, t, rp, false)
	}
	p := &t.Partitions[rp.Partition]
	throttled, budget := s.throttledFetch(run.replicaID, p)
	if throttled {
		rp.PartitionMaxBytes = int32(min(int64(rp.PartitionMaxBytes), budget))
	}
	n, err := s.fetchPartitionLimited(run, fp, t, rp, throttled && budget <= 0)
	if throttled {
		s.chargeThrottle(n)
	}
	if n > 0 && slices.Contains(p.AddingReplicas, run.replicaID) {
		s.metrics.reassignBytesOut.Add(float64(n)) // metrics.go
	}
	return n, err
}

// fetchPartitionLimited is fetchPartition; noRecords answers offsets only.
func (s *Server) fetchPartitionLimited(run *fetchRun, fp *kmsg.FetchResponseTopicPartition, t *raftmeta.Topic, rp kmsg.FetchRequestTopicPartition, noRecords bool) (int, error) {
	toLEO := run.replicaID >= 0
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
	if toLEO {
		if err := s.checkFollower(run, &t.Partitions[rp.Partition], rp.CurrentLeaderEpoch); err != nil {
			return 0, err
		}
		if cur := part.LeaderEpoch(); rp.LastFetchedEpoch > cur {
			// The follower's log already holds records of a newer leader
			// epoch: a newer leader exists and this broker is a deposed
			// one that has not applied the metadata yet (paused, or cut
			// off). Its fetch offset counts that newer leader's records;
			// counting it here would acknowledge this broker's own
			// divergent tail on copies that do not exist.
			return 0, fmt.Errorf("%w: follower %d has records of leader epoch %d, this leader is at %d",
				kerr.UnknownLeaderEpoch, run.replicaID, rp.LastFetchedEpoch, cur)
		}
	}
	first := run.total == 0
	limit := min(int(rp.PartitionMaxBytes), run.maxBytes-run.total)
	if (limit <= 0 && !first) || noRecords {
		// Out of response budget: report offsets without records.
		fp.HighWatermark = part.HighWatermark()
		fp.LastStableOffset = part.LastStableOffset()
		fp.LogStartOffset = part.LogStartOffset()
		return 0, nil
	}
	if first {
		limit = max(limit, 1) // KIP-74: at least one whole batch
	}
	res, sl, err := s.readPartition(run, fp, part, rp.FetchOffset, limit, toLEO)
	fp.HighWatermark = res.HighWatermark
	fp.LastStableOffset = res.LastStable
	fp.LogStartOffset = res.LogStartOffset
	if toLEO && err == nil {
		// A follower's fetch offset is its log end: it may move the high
		// watermark, which the follower then learns in this very answer.
		part.RecordFollowerFetch(run.replicaID, rp.FetchOffset, time.Now())
		fp.HighWatermark = part.HighWatermark()
		fp.LastStableOffset = part.LastStableOffset()
	}
	if err != nil {
		if !errors.Is(err, storage.ErrOffsetOutOfRange) {
			s.logger.Error("fetch failed", "topic", t.Name, "partition", rp.Partition, "err", err)
		}
		return 0, err
	}
	if n := int(sl.Len) + len(fp.RecordBatches); !first && n > limit {
		// Only the response's first batch may exceed its limits (KIP-74);
		// storage returns at least one batch, so drop an oversized one.
		if sl.File != nil {
			sl.File.Close()
		}
		fp.RecordBatches = []byte{}
		return 0, nil
	}
	if sl.Len > 0 {
		run.files++
		fp.RecordBatches = run.req.Splice(wire.FileRange{File: sl.File, Offset: sl.Pos, Length: sl.Len})
		return int(sl.Len), nil
	}
	return len(fp.RecordBatches), nil
}

// readPartition reads up to limit bytes of part from offset: as a file range
// to splice (or its bytes, when small) while the response holds fewer than
// fetchMaxFiles files, else copied into fp.RecordBatches.
func (s *Server) readPartition(run *fetchRun, fp *kmsg.FetchResponseTopicPartition, part *replica.Partition, offset int64, limit int, toLEO bool) (replica.FetchResult, storage.Slice, error) {
	if !toLEO && run.r.IsolationLevel == 1 {
		return s.readCommitted(run, fp, part, offset, limit)
	}
	if run.files < fetchMaxFiles {
		res, sl, ok, err := part.FetchSlice(offset, limit, toLEO)
		if err != nil || ok {
			return res, inlineSmall(fp, sl), err
		}
	}
	res, err := part.Fetch(offset, limit, toLEO)
	fp.RecordBatches = res.Records
	if fp.RecordBatches == nil {
		// Kafka sends an empty records field, never a null one: librdkafka
		// rejects null ("invalid MessageSetSize -1").
		fp.RecordBatches = []byte{}
	}
	return res, storage.Slice{}, err
}

// inlineSmall puts a small range that storage read into memory
// (storage.SliceCopyMax) into fp.RecordBatches and returns the empty slice
// left to splice; any other slice it returns as it is.
func inlineSmall(fp *kmsg.FetchResponseTopicPartition, sl storage.Slice) storage.Slice {
	if sl.Data == nil {
		return sl
	}
	fp.RecordBatches = sl.Data
	return storage.Slice{}
}

// checkFollower validates a fetch in a replica's name against the metadata
// before it may move follower state (Kafka's followerReplicaOrThrow,
// KAFKA-13837): the id must be an assigned replica of the partition, not
// this broker, and a registered, unfenced broker. Otherwise the partition is
// answered UNKNOWN_LEADER_EPOCH when the request carries a leader epoch and
// NOT_LEADER_OR_FOLLOWER when it does not, and nothing changes. The fetch
// must then be v15+ and carry, in ReplicaState.Epoch, the broker epoch of
// that broker's current registration (KIP-903), so that a client claiming
// a live follower's id is not taken for it: otherwise NOT_LEADER_OR_FOLLOWER,
// Kafka's answer to a stale broker epoch (Replica.updateFetchStateOrThrow),
// and nothing changes. Unlike Kafka, which compares ordered epochs and lets
// -1 ("none") through, any epoch but the registered one is refused, and so
// is every replica fetch below v15. A follower that has just registered
// anew may find this broker's metadata behind: NOT_LEADER_OR_FOLLOWER makes
// handleFetch catch up once (catchup.go) and look again. On a broker with
// several listeners, follower fetches are only taken on the inter-broker
// listener (Kafka's ClusterAction check answers TOPIC_AUTHORIZATION_FAILED).
func (s *Server) checkFollower(run *fetchRun, p *raftmeta.Partition, leaderEpoch int32) error {
	if l := s.interBrokerListener(); l != "" && run.req.Conn != nil && run.req.Conn.Listener != l {
		return errTopicAuthorization
	}
	id := run.replicaID
	b, registered := run.st.Brokers[id]
	if id == s.cfg.NodeID || !registered || b.Fenced || !slices.Contains(p.Replicas, id) {
		if leaderEpoch >= 0 {
			return fmt.Errorf("%w: replica %d is not a live follower of this partition", kerr.UnknownLeaderEpoch, id)
		}
		return fmt.Errorf("%w: replica %d is not a live follower of this partition", kerr.NotLeaderForPartition, id)
	}
	if run.r.Version < 15 {
		return fmt.Errorf("%w: replica %d fetched at v%d, without its broker epoch (v15+)", kerr.NotLeaderForPartition, id, run.r.Version)
	}
	if run.r.ReplicaState.Epoch != b.Epoch {
		return fmt.Errorf("%w: replica %d fetched at a broker epoch that is not its current one", kerr.NotLeaderForPartition, id)
	}
	return nil
}

// verifiedFollower reports whether a Fetch in replica id's name passes the
// partition-independent half of checkFollower (listener, registered and
// unfenced broker, v15+ at its current broker epoch): only then may its
// session be a privileged one, which other clients cannot evict.
func (s *Server) verifiedFollower(req *wire.Request, r *kmsg.FetchRequest, id int32) bool {
	if l := s.interBrokerListener(); l != "" && req.Conn != nil && req.Conn.Listener != l {
		return false
	}
	b, registered := s.meta.State().Brokers[id]
	return id != s.cfg.NodeID && registered && !b.Fenced && r.Version >= 15 && r.ReplicaState.Epoch == b.Epoch
}

// interBrokerListener names the only listener follower fetches are taken
// on, or "" when the broker has a single listener (nothing to tell apart).
func (s *Server) interBrokerListener() string {
	if len(s.cfg.Listeners) < 2 {
		return ""
	}
	if s.cfg.InterBrokerListenerName != "" {
		return s.cfg.InterBrokerListenerName
	}
	return s.cfg.Listeners[0].Name
}
