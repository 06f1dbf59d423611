package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/storage"
)

// Request versions the fetcher sends. Fetch v15 is the first that carries
// ReplicaState{ReplicaID, ReplicaEpoch} (KIP-903): the broker epoch that
// proves a follower is the current incarnation of the broker it names
// (Strom leaders take no replica fetch below it). Since v13 topics are named
// by topic ID. It has CurrentLeaderEpoch (v9) for fencing and
// LastFetchedEpoch (v12). OffsetForLeaderEpoch v3 is the first with
// ReplicaID; it changes no follower state on the leader, so it carries no
// broker epoch.
const (
	fetchVersion          = 15
	offsetForEpochVersion = 3
)

// fetchState is one partition followed by a fetcher. Guarded by fetcher.mu.
type fetchState struct {
	p       *Partition
	topicID [16]byte // names the topic in Fetch (v13+)
	epoch   int32    // the leader epoch we follow at, sent as CurrentLeaderEpoch
	// truncating: the log may hold a divergent tail; OffsetForLeaderEpoch
	// must settle it before fetching (KIP-101/279). Set at every new epoch.
	truncating bool
	retryAt    time.Time // after a partition-level error
	failures   int       // partition-level errors in a row (backoff grows)
}

// fetcher is Kafka's ReplicaFetcherThread: one goroutine per leader broker,
// one connection, one Fetch request covering every partition followed from
// that leader, in an incremental fetch session (fetchSession): the leader
// keeps serving a partition the request leaves out at its last sent fetch
// offset, which is still our log end.
type fetcher struct {
	r        *replication
	leaderID int32
	logger   *slog.Logger
	ctx      context.Context // cancelled to stop the fetcher
	cancel   context.CancelFunc
	wake     chan struct{} // cap 1: partitions were added

	// mu guards the fields below and is held while a response is applied,
	// so that once remove returns no write for that partition is under way
	// or to come.
	mu     sync.Mutex
	addr   string
	redial bool // addr changed: drop the connection
	parts  map[tp]*fetchState
	// interrupt cancels the request in flight (nil when none); add calls
	// it so that a partition newly followed, or followed at a new epoch,
	// does not wait out a long poll that does not name it (up to
	// replica.fetch.wait.max.ms, a replicated write's whole tail latency
	// on a fresh topic). interrupted tells run the failure was ours.
	interrupt   context.CancelFunc
	interrupted bool
	added       bool // add changed parts since the last plan

	// goneSince is when the leader's process started to look dead (its
	// connection closed or reset under us, or refused: leaderGone), in
	// Unix nanoseconds, 0 while it does not. Written by run, read by
	// Manager.LeaderGoneSince.
	goneSince atomic.Int64

	// sess is the fetch session with the leader; only the run goroutine
	// touches it (no lock).
	sess fetchSession
}

// setGone records whether the last attempt found the leader gone, keeping
// the time it was first found so.
func (f *fetcher) setGone(gone bool) {
	if !gone {
		f.goneSince.Store(0)
		return
	}
	f.goneSince.CompareAndSwap(0, time.Now().UnixNano())
}

// sessionPart names a partition in a fetch session (Fetch v13+ keys
// sessions by topic ID).
type sessionPart struct {
	topicID [16]byte
	index   int32
}

// sessionParams is what the leader's session caches for a partition: the
// fields of a request partition. A partition whose fields are unchanged is
// left out of an incremental request (its cached fetch offset stands).
type sessionParams struct {
	offset, logStart        int64
	epoch, lastFetchedEpoch int32
	maxBytes                int32
}

// fetchSession is the follower's side of an incremental fetch session
// (KIP-227), Kafka's FetchSessionHandler. The first request is a full one at
// SessionEpoch 0; once the leader answers with a session id, requests carry
// only the partitions that were added or whose parameters changed (fetch
// offset moved, new leader epoch...), and name the ones no longer fetched in
// ForgottenTopicsData. Omitted partitions are fetched by the leader at their
// cached parameters, so their answers come only when something changed.
type fetchSession struct {
	id    int32 // 0: none
	epoch int32 // the next request's SessionEpoch; 0 asks for a (new) session
	sent  map[sessionPart]sessionParams
}

// reset makes the next request a full one: keep = true closes the current
// session on the leader (Kafka's nextCloseExisting, after a failed request
// or INVALID_FETCH_SESSION_EPOCH), false forgets it (FETCH_SESSION_ID_NOT_FOUND).
func (s *fetchSession) reset(keep bool) {
	if !keep {
		s.id = 0
	}
	s.epoch = 0
	s.sent = nil
}

// answered moves the session on after a successful response with
// SessionID id to a request that sent next.
func (s *fetchSession) answered(id int32, next map[sessionPart]sessionParams) {
	switch {
	case id == 0:
		s.reset(false) // no session (or the leader closed it): full fetches
	case s.epoch == 0:
		s.id, s.epoch, s.sent = id, 1, next
	default:
		s.sent = next
		s.epoch++
		if s.epoch < 0 {
			s.epoch = 1 // wraps like Kafka's nextEpoch
		}
	}
}

func newFetcher(r *replication, leaderID int32, addr string) *fetcher {
	ctx, cancel := context.WithCancel(r.ctx)
	return &fetcher{
		r:        r,
		leaderID: leaderID,
		logger:   r.logger.With("leader", leaderID),
		ctx:      ctx,
		cancel:   cancel,
		wake:     make(chan struct{}, 1),
		addr:     addr,
		parts:    make(map[tp]*fetchState),
	}
}

// add starts (or, at a new epoch, restarts with truncation) fetching key.
func (f *fetcher) add(key tp, p *Partition, topicID [16]byte, epoch int32, addr string) {
	f.mu.Lock()
	if addr != f.addr {
		f.addr, f.redial = addr, true
	}
	if st := f.parts[key]; st == nil || st.p != p || st.epoch != epoch || st.topicID != topicID {
		f.parts[key] = &fetchState{p: p, topicID: topicID, epoch: epoch, truncating: true}
		f.added = true
		if f.interrupt != nil {
			f.interrupt()
			f.interrupt, f.interrupted = nil, true
		}
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// remove stops fetching key and returns how many partitions remain.
func (f *fetcher) remove(key tp) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.parts, key)
	return len(f.parts)
}

// work is one partition's share of a request, captured without the lock.
type work struct {
	key     tp
	st      *fetchState
	topicID [16]byte
	epoch   int32
	offset  int64 // fetch offset: our log end offset
	// budget > 0: the partition is throttled (throttle.go) and may fetch
	// this many bytes; 0: not throttled.
	budget      int64
	reassigning bool // FollowerThrottle.Reassigning
}

// plan picks the partitions to truncate and to fetch now, dropping those no
// longer followed at the fetcher's epoch; next is the earliest retry time of
// the partitions left out (zero if none).
func (f *fetcher) plan(now time.Time) (addr string, redial bool, trunc, fetch []work, next time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	addr, redial = f.addr, f.redial
	f.redial, f.added = false, false
	ft, rate := f.r.cfg.FollowerThrottle, int64(-1)
	if ft != nil {
		rate = ft.FollowerRate()
	}
	for key, st := range f.parts {
		if !st.p.following(st.epoch) {
			delete(f.parts, key)
			continue
		}
		if st.retryAt.After(now) {
			if next.IsZero() || st.retryAt.Before(next) {
				next = st.retryAt
			}
			continue
		}
		w := work{key: key, st: st, topicID: st.topicID, epoch: st.epoch, offset: st.p.LogEndOffset()}
		w.reassigning = !st.truncating && ft != nil && ft.Reassigning(key.topic, key.index)
		if w.reassigning && rate >= 0 {
			avail, retry := f.r.budget.grant(now, rate)
			if avail <= 0 {
				if next.IsZero() || retry.Before(next) {
					next = retry
				}
				continue // over follower.replication.throttled.rate
			}
			w.budget = avail
		}
		if st.truncating {
			trunc = append(trunc, w)
		} else {
			fetch = append(fetch, w)
		}
	}
	byKey := func(ws []work) {
		sort.Slice(ws, func(i, j int) bool {
			if ws[i].key.topic != ws[j].key.topic {
				return ws[i].key.topic < ws[j].key.topic
			}
			return ws[i].key.index < ws[j].key.index
		})
	}
	byKey(trunc)
	byKey(fetch)
	return addr, redial, trunc, fetch, next
}

// current returns the state for w if it is still the one w was planned
// from. Caller holds f.mu.
func (f *fetcher) current(w work) *fetchState {
	if st := f.parts[w.key]; st == w.st && st.epoch == w.epoch {
		return st
	}
	return nil
}

func (f *fetcher) run() {
	defer f.r.wg.Done()
	var cl Requester
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	failures := 0
	for f.ctx.Err() == nil {
		addr, redial, trunc, fetch, next := f.plan(time.Now())
		if redial && cl != nil {
			cl.Close()
			cl = nil
		}
		if len(trunc) == 0 && len(fetch) == 0 {
			f.idle(next)
			continue
		}
		if cl == nil {
			var err error
			if cl, err = f.dial(addr); err != nil {
				cl = nil // a Dialer may return a typed nil with its error
				f.setGone(leaderGone(err))
				failures++
				f.logFailure(failures, "dial leader failed", "addr", addr, "err", err)
				f.sleep(jitter(f.r.cfg.FetchBackoff))
				continue
			}
		}
		ctx, ok := f.beginRequests()
		if !ok {
			continue // a partition was added since plan: plan again
		}
		// A round truncates, or fetches: a partition that has just
		// settled its log must be in the next long poll, not wait for the
		// one that would start now without it.
		var err error
		if len(trunc) > 0 {
			err = f.truncate(ctx, cl, trunc)
		} else {
			err = f.fetch(ctx, cl, fetch, next)
		}
		interrupted := f.endRequests()
		if err != nil {
			cl.Close()
			cl = nil
			if f.ctx.Err() != nil {
				return
			}
			if interrupted {
				continue // add cut a long poll short: plan again at once
			}
			f.setGone(leaderGone(err))
			failures++
			f.logFailure(failures, "fetch from leader failed", "addr", addr, "err", err)
			f.sleep(jitter(f.r.cfg.FetchBackoff))
			continue
		}
		failures = 0
		f.setGone(false)
	}
}

// leaderGone reports whether a failed dial or request says the leader's
// process is gone rather than slow or cut off: the connection was closed or
// reset by the leader's host (a killed process's sockets are), or nothing
// listens on its port any more. A black-holed or paused leader gives
// timeouts instead, which say nothing about it.
func leaderGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE)
}

// logFailure logs the first of a run of connection failures as a warning
// and the rest at debug, so a dead leader does not flood the log.
func (f *fetcher) logFailure(n int, msg string, args ...any) {
	if n == 1 {
		f.logger.Warn(msg, args...)
	} else {
		f.logger.Debug(msg, append(args, "failures", n)...)
	}
}

func (f *fetcher) dial(addr string) (Requester, error) {
	ctx, cancel := context.WithTimeout(f.ctx, f.r.cfg.RequestTimeout)
	defer cancel()
	return f.r.cfg.Dialer(ctx, addr)
}

// idle waits for new partitions, the next retry time, or shutdown.
func (f *fetcher) idle(next time.Time) {
	var timeout <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(time.Until(next))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-f.ctx.Done():
	case <-f.wake:
	case <-timeout:
	}
}

// sleep waits d or until shutdown.
func (f *fetcher) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.ctx.Done():
	case <-t.C:
	}
}

// jitter spreads d over [d/2, 3d/2) so fetchers that failed together do not
// retry in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d)
}

// beginRequests returns the context of this round's requests, which add
// may cancel (interrupt), or false if add already changed the partitions
// since plan.
func (f *fetcher) beginRequests() (context.Context, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.added {
		return nil, false
	}
	ctx, cancel := context.WithCancel(f.ctx)
	f.interrupt, f.interrupted = cancel, false
	return ctx, true
}

// endRequests ends the round begun by beginRequests and reports whether add
// interrupted it.
func (f *fetcher) endRequests() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.interrupt != nil {
		f.interrupt()
		f.interrupt = nil
	}
	return f.interrupted
}

// minPartitionBackoff is the first retry delay of a partition refused by
// its leader. Most refusals are one broker's metadata lagging another's by
// milliseconds (a new topic, a leader change: UNKNOWN_LEADER_EPOCH,
// NOT_LEADER_OR_FOLLOWER), so the delay starts small and doubles up to
// replica.fetch.backoff.ms; a flat second, as Kafka waits, put that second
// on every acks=all write to a new partition.
const minPartitionBackoff = 10 * time.Millisecond

// backoffLocked parks a partition after a partition-level error, for a
// delay that doubles with each error in a row. Caller holds f.mu.
func (f *fetcher) backoffLocked(st *fetchState) {
	d := f.r.cfg.FetchBackoff
	if st.failures < 16 {
		d = min(d, minPartitionBackoff<<st.failures)
	}
	st.failures++
	st.retryAt = time.Now().Add(jitter(d))
}

func (f *fetcher) request(ctx context.Context, cl Requester, req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, f.r.cfg.FetchMaxWait+f.r.cfg.RequestTimeout)
	defer cancel()
	if sc, ok := cl.(scratchRequester); ok {
		return sc.RequestScratch(ctx, req) // fetch applies the answer before the next request
	}
	return cl.Request(ctx, req)
}

// scratchRequester is a Requester that can read a response into a buffer
// it reuses for the next one (wire.Client.RequestScratch).
type scratchRequester interface {
	RequestScratch(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
}

// truncate settles the divergent tail of each partition in ws with the
// leader, Kafka's getOffsetTruncationState: ask the leader where our latest
// epoch ends in its log, cut ours there. A partition with no epoch history
// falls back to its high watermark (the pre-KIP-101 rule). Only a failed
// request is returned; partition errors park the partition.
func (f *fetcher) truncate(ctx context.Context, cl Requester, ws []work) error {
	if len(ws) == 0 {
		return nil
	}
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.SetVersion(offsetForEpochVersion)
	req.ReplicaID = f.r.self
	var asked []work
	for _, w := range ws {
		epoch := w.st.p.latestEpoch()
		if epoch < 0 {
			f.mu.Lock()
			if st := f.current(w); st != nil {
				f.applyTruncation(w, st, st.p.HighWatermark(), true)
			}
			f.mu.Unlock()
			continue
		}
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition = w.key.index
		rp.CurrentLeaderEpoch = w.epoch
		rp.LeaderEpoch = epoch
		addPartition(&req.Topics, w.key.topic, func(t *kmsg.OffsetForLeaderEpochRequestTopic) string { return t.Topic },
			func(name string) kmsg.OffsetForLeaderEpochRequestTopic {
				t := kmsg.NewOffsetForLeaderEpochRequestTopic()
				t.Topic = name
				return t
			}, func(t *kmsg.OffsetForLeaderEpochRequestTopic) { t.Partitions = append(t.Partitions, rp) })
		asked = append(asked, w)
	}
	if len(asked) == 0 {
		return nil
	}
	kresp, err := f.request(ctx, cl, req)
	if err != nil {
		return err
	}
	resp, ok := kresp.(*kmsg.OffsetForLeaderEpochResponse)
	if !ok {
		return fmt.Errorf("replica: OffsetForLeaderEpoch answered with %T", kresp)
	}
	answers := make(map[tp]kmsg.OffsetForLeaderEpochResponseTopicPartition)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			answers[tp{t.Topic, p.Partition}] = p
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range asked {
		st := f.current(w)
		if st == nil {
			continue
		}
		a, ok := answers[w.key]
		if !ok {
			f.backoffLocked(st)
			continue
		}
		if err := kerr.ErrorForCode(a.ErrorCode); err != nil {
			f.logger.Debug("OffsetForLeaderEpoch refused", "topic", w.key.topic, "partition", w.key.index, "epoch", w.epoch, "err", err)
			f.backoffLocked(st)
			continue
		}
		target, done := truncationOffset(st.p, a.LeaderEpoch, a.EndOffset)
		f.applyTruncation(w, st, target, done)
	}
	return nil
}

// truncationOffset decides where to cut given the leader's answer (the
// largest epoch <= ours it knows and where that epoch ends in its log). done
// is false when we do not know the leader's epoch ourselves: we cut to
// where our next older epoch ends and ask again with it.
func truncationOffset(p *Partition, leaderEpoch int32, leaderEnd int64) (offset int64, done bool) {
	leo := p.LogEndOffset()
	switch {
	case leaderEnd < 0:
		// The leader knows nothing of our epoch history.
		return min(p.HighWatermark(), leo), true
	case leaderEpoch < 0:
		return min(leaderEnd, leo), true
	}
	ourEpoch, ourEnd := p.log.EndOffsetForEpoch(leaderEpoch)
	switch {
	case ourEpoch < 0:
		return min(leaderEnd, leo), true
	case ourEpoch != leaderEpoch:
		return min(ourEnd, leo), false
	default:
		return min(ourEnd, leaderEnd, leo), true
	}
}

// applyTruncation cuts st's log at offset; done ends the truncation phase.
// Caller holds f.mu.
func (f *fetcher) applyTruncation(w work, st *fetchState, offset int64, done bool) {
	err := st.p.truncateAsFollower(w.epoch, offset)
	switch {
	case errors.Is(err, errStopFollowing), errors.Is(err, ErrClosed):
		delete(f.parts, w.key)
	case err != nil:
		f.logger.Error("truncation failed", "topic", w.key.topic, "partition", w.key.index, "offset", offset, "err", err)
		f.backoffLocked(st)
	default:
		st.truncating = !done
	}
}

// fetch sends one Fetch for every partition in ws (in a session: those of
// ws that changed) and applies the answer. retry is when the next parked
// partition may be tried again (zero: none): the long poll ends by then.
// Only a failed request is returned; partition errors park the partition.
func (f *fetcher) fetch(ctx context.Context, cl Requester, ws []work, retry time.Time) error {
	if len(ws) == 0 {
		return nil
	}
	req, next := f.fetchRequest(ws, retry)
	kresp, err := f.request(ctx, cl, req)
	if err != nil {
		f.sess.reset(true)
		return err
	}
	resp, ok := kresp.(*kmsg.FetchResponse)
	if !ok {
		f.sess.reset(true)
		return fmt.Errorf("replica: Fetch answered with %T", kresp)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		switch {
		case errors.Is(err, kerr.FetchSessionIDNotFound):
			// The leader restarted or evicted the session: start anew.
			f.logger.Debug("fetch session lost; fetching in full", "session", req.SessionID, "err", err)
			f.sess.reset(false)
			return nil
		case errors.Is(err, kerr.InvalidFetchSessionEpoch), errors.Is(err, kerr.FetchSessionTopicIDError):
			f.logger.Debug("fetch session out of step; fetching in full", "session", req.SessionID, "err", err)
			f.sess.reset(true)
			return nil
		}
		f.sess.reset(true)
		return fmt.Errorf("replica: fetch refused: %w", err)
	}
	incremental := req.SessionEpoch > 0
	f.sess.answered(resp.SessionID, next)
	// v13+ answers name topics by id only.
	answers := make(map[sessionPart]*kmsg.FetchResponseTopicPartition)
	for i := range resp.Topics {
		t := &resp.Topics[i]
		for j := range t.Partitions {
			answers[sessionPart{t.TopicID, t.Partitions[j].Partition}] = &t.Partitions[j]
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range ws {
		st := f.current(w)
		if st == nil {
			continue
		}
		a := answers[sessionPart{w.topicID, w.key.index}]
		if a == nil {
			if !incremental {
				f.backoffLocked(st)
			}
			// An incremental answer leaves out what did not change.
			continue
		}
		f.applyFetch(w, st, a)
	}
	return nil
}

// fetchRequest builds the Fetch for ws, in this broker's name at its
// current broker epoch, and returns it with the parameters of every
// partition of ws, what the leader's session holds once it answers. In an
// established session only the changed partitions are named, and those
// the session holds but ws lacks (no longer followed, parked, truncating)
// are forgotten. retry bounds the long poll (see fetch).
func (f *fetcher) fetchRequest(ws []work, retry time.Time) (*kmsg.FetchRequest, map[sessionPart]sessionParams) {
	cfg := f.r.cfg
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(fetchVersion)
	req.ReplicaID = -1 // v15+ names the replica in ReplicaState only
	req.ReplicaState.ID = f.r.self
	req.ReplicaState.Epoch = cfg.BrokerEpoch()
	wait := cfg.FetchMaxWait
	if !retry.IsZero() {
		// A parked partition is due before the long poll would end.
		wait = max(min(wait, time.Until(retry)), time.Millisecond)
	}
	req.MaxWaitMillis = int32(wait / time.Millisecond)
	req.MinBytes = cfg.FetchMinBytes
	req.MaxBytes = cfg.FetchMaxBytes
	req.SessionID = f.sess.id
	req.SessionEpoch = f.sess.epoch
	next := make(map[sessionPart]sessionParams, len(ws))
	for _, w := range ws {
		k := sessionPart{w.topicID, w.key.index}
		sp := sessionParams{
			offset:           w.offset,
			logStart:         w.st.p.LogStartOffset(),
			epoch:            w.epoch,
			lastFetchedEpoch: w.st.p.latestEpoch(),
			maxBytes:         cfg.FetchPartitionMaxBytes,
		}
		if w.budget > 0 {
			sp.maxBytes = int32(min(w.budget, int64(sp.maxBytes)))
		}
		next[k] = sp
		if prev, ok := f.sess.sent[k]; ok && req.SessionEpoch > 0 && prev == sp {
			continue // unchanged: the leader fetches it from its cache
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = w.key.index
		rp.CurrentLeaderEpoch = sp.epoch
		rp.FetchOffset = sp.offset
		rp.LastFetchedEpoch = sp.lastFetchedEpoch
		rp.LogStartOffset = sp.logStart
		rp.PartitionMaxBytes = sp.maxBytes
		addPartition(&req.Topics, w.topicID, func(t *kmsg.FetchRequestTopic) [16]byte { return t.TopicID },
			func(id [16]byte) kmsg.FetchRequestTopic {
				t := kmsg.NewFetchRequestTopic()
				t.Topic = w.key.topic // not encoded at v13+
				t.TopicID = id
				return t
			}, func(t *kmsg.FetchRequestTopic) { t.Partitions = append(t.Partitions, rp) })
	}
	if req.SessionEpoch > 0 {
		var gone []sessionPart
		for k := range f.sess.sent {
			if _, ok := next[k]; !ok {
				gone = append(gone, k)
			}
		}
		sort.Slice(gone, func(i, j int) bool {
			if c := bytes.Compare(gone[i].topicID[:], gone[j].topicID[:]); c != 0 {
				return c < 0
			}
			return gone[i].index < gone[j].index
		})
		for _, k := range gone {
			addPartition(&req.ForgottenTopics, k.topicID, func(t *kmsg.FetchRequestForgottenTopic) [16]byte { return t.TopicID },
				func(id [16]byte) kmsg.FetchRequestForgottenTopic {
					t := kmsg.NewFetchRequestForgottenTopic()
					t.TopicID = id
					return t
				}, func(t *kmsg.FetchRequestForgottenTopic) { t.Partitions = append(t.Partitions, k.index) })
		}
	}
	return req, next
}

// applyFetch handles one partition of a Fetch response. Caller holds f.mu.
func (f *fetcher) applyFetch(w work, st *fetchState, a *kmsg.FetchResponseTopicPartition) {
	p := st.p
	log := f.logger.With("topic", w.key.topic, "partition", w.key.index)
	switch err := kerr.ErrorForCode(a.ErrorCode); {
	case err == nil:
	case errors.Is(err, kerr.OffsetOutOfRange):
		if a.LogStartOffset >= 0 && w.offset < a.LogStartOffset {
			// We fell below the leader's log start: what we lack is gone.
			f.applyRestart(w, st, a.LogStartOffset)
			return
		}
		// Ahead of the leader's log end: settle by epoch again.
		log.Info("fetch offset beyond the leader's log end; truncating again", "offset", w.offset)
		st.truncating = true
		f.backoffLocked(st)
		return
	default:
		// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH,
		// UNKNOWN_TOPIC_OR_PARTITION...: the leader and we disagree on the
		// metadata. Wait for the server to tell us again.
		log.Debug("fetch refused", "epoch", w.epoch, "err", err)
		f.backoffLocked(st)
		return
	}
	_, err := p.appendAsFollower(w.epoch, a.RecordBatches)
	switch {
	case errors.Is(err, errStopFollowing), errors.Is(err, ErrClosed), errors.Is(err, storage.ErrClosed):
		delete(f.parts, w.key)
		return
	case errors.Is(err, storage.ErrNonSequentialOffset):
		log.Warn("fetched records do not follow our log; truncating again", "err", err)
		st.truncating = true
		f.backoffLocked(st)
		return
	case err != nil:
		log.Error("append fetched records failed", "err", err)
		f.backoffLocked(st)
		return
	}
	st.failures = 0
	f.r.bytesIn.Add(int64(len(a.RecordBatches))) // metrics.go
	if w.budget > 0 {
		f.r.budget.charge(len(a.RecordBatches)) // throttle.go
	}
	if w.reassigning {
		f.r.reassignBytesIn.Add(int64(len(a.RecordBatches))) // metrics.go
	}
	p.updateFollowerHW(w.epoch, a.HighWatermark)
	if a.LogStartOffset > p.LogStartOffset() {
		if err := p.advanceLogStartAsFollower(w.epoch, a.LogStartOffset); err != nil {
			log.Warn("following the leader's log start failed", "offset", a.LogStartOffset, "err", err)
		}
	}
}

// applyRestart empties st's log and restarts it at offset. Caller holds f.mu.
func (f *fetcher) applyRestart(w work, st *fetchState, offset int64) {
	err := st.p.restartAsFollower(w.epoch, offset)
	switch {
	case errors.Is(err, errStopFollowing), errors.Is(err, ErrClosed):
		delete(f.parts, w.key)
	case err != nil:
		f.logger.Error("restarting log at leader's log start failed", "topic", w.key.topic, "partition", w.key.index, "offset", offset, "err", err)
		f.backoffLocked(st)
	}
}

// addPartition appends to the request topic named name (by name or id;
// added last if new), keeping one entry per topic: ws come sorted by topic.
func addPartition[T any, K comparable](topics *[]T, name K, nameOf func(*T) K, newTopic func(K) T, add func(*T)) {
	if n := len(*topics); n > 0 && nameOf(&(*topics)[n-1]) == name {
		add(&(*topics)[n-1])
		return
	}
	*topics = append(*topics, newTopic(name))
	add(&(*topics)[len(*topics)-1])
}
