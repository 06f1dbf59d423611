package server

// Incremental fetch sessions (KIP-227), the server side: Kafka's
// FetchManager and FetchSessionCache (FetchSession.scala), rewritten.
//
// A full fetch (SessionEpoch 0) may create a session: the broker remembers
// every partition the request named (its fetch offset, max bytes, the
// fetcher's log start offset, CurrentLeaderEpoch, LastFetchedEpoch) and what
// it last answered for it (high watermark, last stable offset, log start
// offset), and answers with a random non-zero SessionID. Later requests
// (SessionEpoch 1, 2, ...) name only the partitions whose parameters changed,
// were added, or are dropped (ForgottenTopicsData); the broker serves every
// partition of the session from its cached parameters and answers only those
// with records, a changed high watermark, last stable or log start offset, or
// an error. SessionEpoch -1 is a sessionless full fetch; -1 with a session id
// also closes that session, 0 with one closes it and opens a new one.
//
// An incremental fetch whose session moved on while it waited (the client
// sent the next epoch meanwhile) is answered INVALID_FETCH_SESSION_EPOCH.
//
// Bounds: the cache holds at most max.incremental.fetch.session.cache.slots
// sessions (Kafka's eviction: a full cache evicts a session unused for
// fetchSessionMinEviction, else the least valuable one — not a follower's,
// fewer partitions — if it is less valuable than the new one; a session
// last used before it was fetchSessionMinEviction old is only evictable by
// a follower, and then only if it is a consumer's). A session is a
// follower's (privileged) only if the full fetch that made it passed the
// follower checks that need no partition (verifiedFollower). Each session at most
// fetchSessionMaxPartitions partitions and all of them together at most
// fetchSessionCacheMaxPartitions. A full fetch beyond these bounds is served
// without a session; an incremental one that would grow its session beyond
// them closes the session (FETCH_SESSION_ID_NOT_FOUND), so the client falls
// back to full fetches. As in Kafka, a session belongs to no connection: any
// connection that names its id and epoch continues it (clients reconnect),
// and it lives until evicted or closed.
//
// Locks: fetchSessionCache.mu, then fetchSession.mu (never the other way).

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/wire"
)

const (
	// fetchSessionMinEviction is Kafka's min.incremental.fetch.session.eviction.ms
	// (a constant there too): a session unused this long may be evicted by
	// anyone; one used since only by a more valuable newcomer, and only if
	// it was this old at its last use (or is a consumer's and the newcomer
	// a follower's).
	fetchSessionMinEviction = 2 * time.Minute
	// fetchSessionMaxPartitions caps one session. Kafka has no such cap
	// (only the request size); without one a client could pin the whole
	// cache's memory in a single session.
	fetchSessionMaxPartitions = 10_000
	// fetchSessionCacheMaxPartitions caps the partitions cached over all
	// sessions (about 150 bytes each).
	fetchSessionCacheMaxPartitions = 1_000_000
)

// sessionKey names a partition of a session: by topic ID for sessions made
// at Fetch v13+, by name below.
type sessionKey struct {
	topic string
	id    [16]byte
	part  int32
}

// cachedPartition is one partition of a session: the fetcher's last
// parameters and what the broker last answered.
type cachedPartition struct {
	key              sessionKey
	fetchOffset      int64
	maxBytes         int32
	logStartOffset   int64 // the fetcher's own (followers send theirs)
	leaderEpoch      int32 // CurrentLeaderEpoch
	lastFetchedEpoch int32
	// Last answered; -1 highWatermark after an error so that the partition
	// is answered again once the error is gone.
	highWatermark  int64
	lastStable     int64
	leaderLogStart int64
}

func (cp *cachedPartition) setRequest(rp *kmsg.FetchRequestTopicPartition) {
	cp.fetchOffset = rp.FetchOffset
	cp.maxBytes = rp.PartitionMaxBytes
	cp.logStartOffset = rp.LogStartOffset
	cp.leaderEpoch = rp.CurrentLeaderEpoch
	cp.lastFetchedEpoch = rp.LastFetchedEpoch
}

// fetchSession is one client's session.
type fetchSession struct {
	id           int32
	privileged   bool // a verified follower's
	usesTopicIDs bool // created at Fetch v13+
	created      time.Time

	// epoch is the SessionEpoch the next request must carry; written
	// holding both fetchSessionCache.mu and mu, read holding either.
	epoch int32

	// Guarded by fetchSessionCache.mu.
	lastUsed time.Time // when size was last counted too (Kafka's touch)
	size     int       // partitions counted in the cache's total

	// mu guards parts and order (also held, under the cache's lock, while
	// a request updates them).
	mu    sync.Mutex
	parts map[sessionKey]*cachedPartition
	order []*cachedPartition // fetch order; partitions that returned records rotate to the end
}

// evictable reports whether s may be evicted by a newcomer (Kafka's
// evictableByAll / evictableByPrivileged sets, decided at the last touch).
func (s *fetchSession) evictable(byPrivileged bool) bool {
	old := s.lastUsed.Sub(s.created) > fetchSessionMinEviction
	if byPrivileged {
		return old || !s.privileged
	}
	return old
}

// lessValuable orders sessions for eviction as Kafka's EvictableKey:
// non-followers first, then fewer partitions, then lower id.
func lessValuable(aPriv bool, aSize int, aID int32, bPriv bool, bSize int, bID int32) bool {
	if aPriv != bPriv {
		return !aPriv
	}
	if aSize != bSize {
		return aSize < bSize
	}
	return aID < bID
}

// fetchSessionCache is Kafka's FetchSessionCache. Safe for concurrent use.
type fetchSessionCache struct {
	slots int
	now   func() time.Time

	mu            sync.Mutex
	sessions      map[int32]*fetchSession
	numPartitions int

	// Counters for tests and metrics (guarded by mu).
	incremental         int64 // incremental requests accepted
	followerIncremental int64 // of which in privileged (follower) sessions
	evictions           int64
}

func newFetchSessionCache(slots int) *fetchSessionCache {
	return &fetchSessionCache{slots: slots, now: time.Now, sessions: make(map[int32]*fetchSession)}
}

// fetchContext says how one Fetch request is served: the request to fill
// (for an incremental fetch, one naming every partition of the session, in
// session order) and what to do with the response (finish).
type fetchContext struct {
	cache      *fetchSessionCache
	r          *kmsg.FetchRequest // what to serve
	full       bool               // may create a session
	privileged bool
	sess       *fetchSession      // incremental
	snapshot   []*cachedPartition // incremental: the partitions of r, in order
}

// newContext applies a request's session fields (Kafka's
// FetchManager.newContext). An error is a top-level Fetch error.
func (c *fetchSessionCache) newContext(r *kmsg.FetchRequest, privileged bool) (*fetchContext, error) {
	fc := &fetchContext{cache: c, r: r, privileged: privileged}
	if r.Version < 7 {
		return fc, nil // no session fields
	}
	if r.SessionEpoch == 0 || r.SessionEpoch == -1 {
		if r.SessionID != 0 {
			c.remove(r.SessionID)
		}
		fc.full = r.SessionEpoch == 0 && c.slots > 0
		return fc, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[r.SessionID]
	if s == nil {
		return nil, fmt.Errorf("%w: session %d", kerr.FetchSessionIDNotFound, r.SessionID)
	}
	if s.epoch != r.SessionEpoch {
		return nil, fmt.Errorf("%w: session %d expects epoch %d, got %d", kerr.InvalidFetchSessionEpoch, s.id, s.epoch, r.SessionEpoch)
	}
	if s.usesTopicIDs != (r.Version >= 13) {
		return nil, fmt.Errorf("%w: session %d, request v%d", kerr.FetchSessionTopicIDError, s.id, r.Version)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	grown, ok := s.update(r, fetchSessionMaxPartitions, fetchSessionCacheMaxPartitions-c.numPartitions+s.size)
	if !ok {
		c.removeLocked(s)
		return nil, fmt.Errorf("%w: session %d would hold %d partitions", kerr.FetchSessionIDNotFound, s.id, grown)
	}
	if len(s.parts) == 0 {
		// Kafka: an emptied session is closed and the request served
		// without one.
		c.removeLocked(s)
		return fc, nil
	}
	c.incremental++
	if s.privileged {
		c.followerIncremental++
	}
	c.touchLocked(s, c.now())
	s.epoch = nextSessionEpoch(s.epoch)
	fc.sess = s
	fc.snapshot = append([]*cachedPartition(nil), s.order...)
	fc.r = sessionRequest(r, fc.snapshot)
	return fc, nil
}

func nextSessionEpoch(e int32) int32 {
	if e == math.MaxInt32 {
		return 1
	}
	return e + 1
}

// update applies an incremental request's partitions, then its forgotten
// ones, to s (Kafka's FetchSession.update). It refuses (ok false, s
// updated but to be closed) when s would hold more than max partitions, or
// more than room. Caller holds s.mu.
func (s *fetchSession) update(r *kmsg.FetchRequest, max, room int) (size int, ok bool) {
	ids := s.usesTopicIDs
	added := 0
	for i := range r.Topics {
		rt := &r.Topics[i]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			k := topicKey(ids, rt.Topic, rt.TopicID, rp.Partition)
			if cp := s.parts[k]; cp != nil {
				cp.setRequest(rp)
				continue
			}
			cp := &cachedPartition{key: k, highWatermark: -1, lastStable: -1, leaderLogStart: -1}
			cp.setRequest(rp)
			s.parts[k] = cp
			s.order = append(s.order, cp)
			added++
		}
	}
	removed := false
	for _, ft := range r.ForgottenTopics {
		for _, p := range ft.Partitions {
			k := topicKey(ids, ft.Topic, ft.TopicID, p)
			if s.parts[k] != nil {
				delete(s.parts, k)
				removed = true
			}
		}
	}
	if removed {
		kept := s.order[:0]
		for _, cp := range s.order {
			if s.parts[cp.key] == cp {
				kept = append(kept, cp)
			}
		}
		clear(s.order[len(kept):])
		s.order = kept
	}
	return len(s.parts), added == 0 || len(s.parts) <= max && len(s.parts) <= room
}

func topicKey(ids bool, name string, id [16]byte, part int32) sessionKey {
	if ids {
		return sessionKey{id: id, part: part}
	}
	return sessionKey{topic: name, part: part}
}

// sessionRequest builds the request an incremental fetch is served as: r's
// header and limits, every partition of the session from its cached
// parameters. Consecutive partitions of one topic share a topic entry (a
// topic may appear more than once once partitions have rotated). The
// high watermark a v18 follower knows (KIP-1166) is taken only from the
// partitions r names: a cached one would go stale once the follower learnt
// a newer one without naming the partition again, and make every later
// fetch of the session return at once.
func sessionRequest(r *kmsg.FetchRequest, parts []*cachedPartition) *kmsg.FetchRequest {
	var told map[sessionKey]int64
	if r.Version >= 18 {
		told = make(map[sessionKey]int64)
		for _, rt := range r.Topics {
			for _, rp := range rt.Partitions {
				told[topicKey(true, rt.Topic, rt.TopicID, rp.Partition)] = rp.HighWatermark
			}
		}
	}
	out := *r
	out.Topics = nil
	out.ForgottenTopics = nil
	for _, cp := range parts {
		if n := len(out.Topics); n == 0 || out.Topics[n-1].Topic != cp.key.topic || out.Topics[n-1].TopicID != cp.key.id {
			out.Topics = append(out.Topics, kmsg.FetchRequestTopic{Topic: cp.key.topic, TopicID: cp.key.id})
		}
		t := &out.Topics[len(out.Topics)-1]
		hw, ok := told[cp.key]
		if !ok {
			hw = math.MaxInt64 // not told in this request
		}
		t.Partitions = append(t.Partitions, kmsg.FetchRequestTopicPartition{
			Partition:          cp.key.part,
			CurrentLeaderEpoch: cp.leaderEpoch,
			FetchOffset:        cp.fetchOffset,
			LastFetchedEpoch:   cp.lastFetchedEpoch,
			LogStartOffset:     cp.logStartOffset,
			PartitionMaxBytes:  cp.maxBytes,
			HighWatermark:      hw,
		})
	}
	return &out
}

// finish completes resp, the final answer to the request fc was made for
// (req carries its spliced file ranges): a full fetch may create a
// session; an incremental one keeps only the partitions the client must
// hear about and records what was sent.
func (fc *fetchContext) finish(req *wire.Request, orig *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	resp.SessionID = 0
	switch {
	case resp.ErrorCode != 0:
	case fc.sess != nil:
		resp.SessionID = fc.sess.id
		if !fc.sess.filter(resp, fc.snapshot, nextSessionEpoch(orig.SessionEpoch)) {
			// Another request moved the session on while this one
			// waited (a duplicate): Kafka answers it with the error and
			// leaves the session as that request left it.
			req.DropSplices()
			resp.Topics = nil
			resp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
		}
	case fc.full:
		resp.SessionID = fc.cache.maybeCreate(orig, resp, fc.privileged)
	}
}

// filter drops from resp (which answers snapshot, in order) the partitions
// with nothing new, updates the cached answers, and rotates partitions that
// returned records to the end of the session's order (Kafka's
// IncrementalFetchContext), so that a busy partition at the front cannot
// starve the others of the response's byte budget. It does nothing and
// returns false when the session is no longer at epoch, the one the
// request moved it to.
func (s *fetchSession) filter(resp *kmsg.FetchResponse, snapshot []*cachedPartition, epoch int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != epoch {
		return false
	}
	i := 0
	var rotate []*cachedPartition
	topics := resp.Topics[:0]
	for _, t := range resp.Topics {
		parts := t.Partitions[:0]
		for _, p := range t.Partitions {
			if i >= len(snapshot) || snapshot[i].key.part != p.Partition {
				parts = append(parts, p) // cannot happen: answer it
				continue
			}
			cp := snapshot[i]
			i++
			send := len(p.RecordBatches) > 0
			if p.ErrorCode != 0 {
				cp.highWatermark = -1
				send = true
			} else if cp.highWatermark != p.HighWatermark || cp.lastStable != p.LastStableOffset || cp.leaderLogStart != p.LogStartOffset {
				cp.highWatermark, cp.lastStable, cp.leaderLogStart = p.HighWatermark, p.LastStableOffset, p.LogStartOffset
				send = true
			}
			if len(p.RecordBatches) > 0 && s.parts[cp.key] == cp {
				rotate = append(rotate, cp)
			}
			if send {
				parts = append(parts, p)
			}
		}
		if len(parts) > 0 {
			t.Partitions = parts
			topics = append(topics, t)
		}
	}
	clear(resp.Topics[len(topics):])
	resp.Topics = topics
	if len(rotate) == 0 {
		return true
	}
	moved := make(map[*cachedPartition]bool, len(rotate))
	for _, cp := range rotate {
		moved[cp] = true
	}
	kept := s.order[:0]
	for _, cp := range s.order {
		if !moved[cp] {
			kept = append(kept, cp)
		}
	}
	s.order = append(kept, rotate...)
	return true
}

// maybeCreate makes a session of a full fetch's partitions and answers
// (Kafka's FullFetchContext and maybeCreateSession) and returns its id, or
// 0 when the cache has no room for it.
func (c *fetchSessionCache) maybeCreate(r *kmsg.FetchRequest, resp *kmsg.FetchResponse, privileged bool) int32 {
	ids := r.Version >= 13
	reqs := make(map[sessionKey]*kmsg.FetchRequestTopicPartition)
	for i := range r.Topics {
		rt := &r.Topics[i]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			reqs[topicKey(ids, rt.Topic, rt.TopicID, rp.Partition)] = rp
		}
	}
	size := len(reqs)
	if size == 0 || size > fetchSessionMaxPartitions {
		return 0
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.numPartitions+size > fetchSessionCacheMaxPartitions {
		return 0 // checked first: evicting one session rarely makes enough room
	}
	if len(c.sessions) >= c.slots && !c.tryEvictLocked(privileged, size, now) {
		return 0
	}
	s := &fetchSession{
		id:           c.newIDLocked(),
		privileged:   privileged,
		usesTopicIDs: ids,
		created:      now,
		epoch:        1,
		parts:        make(map[sessionKey]*cachedPartition, size),
		order:        make([]*cachedPartition, 0, size),
	}
	for _, t := range resp.Topics {
		name := t.Topic
		if ids {
			name = ""
		}
		for _, p := range t.Partitions {
			k := sessionKey{topic: name, part: p.Partition}
			if ids {
				k.id = t.TopicID
			}
			rp := reqs[k]
			if rp == nil || s.parts[k] != nil {
				continue
			}
			cp := &cachedPartition{key: k, highWatermark: p.HighWatermark, lastStable: p.LastStableOffset, leaderLogStart: p.LogStartOffset}
			if p.ErrorCode != 0 {
				cp.highWatermark = -1
			}
			cp.setRequest(rp)
			s.parts[k] = cp
			s.order = append(s.order, cp)
		}
	}
	if len(s.parts) == 0 {
		return 0
	}
	c.sessions[s.id] = s
	c.touchLocked(s, now)
	return s.id
}

// newIDLocked picks a random, positive, unused session id.
func (c *fetchSessionCache) newIDLocked() int32 {
	for {
		id := rand.Int32N(math.MaxInt32) + 1
		if c.sessions[id] == nil {
			return id
		}
	}
}

// touchLocked marks s used at now and recounts its size. Caller holds c.mu
// (and s.mu, or s is not yet shared).
func (c *fetchSessionCache) touchLocked(s *fetchSession, now time.Time) {
	s.lastUsed = now
	c.numPartitions += len(s.parts) - s.size
	s.size = len(s.parts)
}

// tryEvictLocked makes room for a session of size partitions (Kafka's
// tryEvict): first the least recently used session if it is stale, else
// the least valuable evictable one if it is less valuable than the
// newcomer. Caller holds c.mu.
func (c *fetchSessionCache) tryEvictLocked(privileged bool, size int, now time.Time) bool {
	var lru, victim *fetchSession
	for _, s := range c.sessions {
		if lru == nil || s.lastUsed.Before(lru.lastUsed) || s.lastUsed.Equal(lru.lastUsed) && s.id < lru.id {
			lru = s
		}
		if s.evictable(privileged) && (victim == nil || lessValuable(s.privileged, s.size, s.id, victim.privileged, victim.size, victim.id)) {
			victim = s
		}
	}
	if lru != nil && now.Sub(lru.lastUsed) > fetchSessionMinEviction {
		c.removeLocked(lru)
		c.evictions++
		return true
	}
	if victim != nil && lessValuable(victim.privileged, victim.size, victim.id, privileged, size, 0) {
		c.removeLocked(victim)
		c.evictions++
		return true
	}
	return false
}

func (c *fetchSessionCache) remove(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.sessions[id]; s != nil {
		c.removeLocked(s)
	}
}

func (c *fetchSessionCache) removeLocked(s *fetchSession) {
	if c.sessions[s.id] != s {
		return
	}
	delete(c.sessions, s.id)
	c.numPartitions -= s.size
	s.size = 0
}

// stats returns the cache's size and counters (for tests and metrics).
func (c *fetchSessionCache) stats() (sessions, partitions int, incremental, evictions int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions), c.numPartitions, c.incremental, c.evictions
}

// FetchSessionStats describes a broker's incremental fetch sessions.
type FetchSessionStats struct {
	Sessions            int   // sessions cached
	FollowerSessions    int   // of which followers' (privileged)
	Partitions          int   // partitions cached over all sessions
	Incremental         int64 // incremental Fetch requests served since start
	FollowerIncremental int64 // of which from followers
	Evictions           int64
}

// FetchSessionStats reports the broker's fetch session cache (tests,
// metrics). Safe for concurrent use.
func (s *Server) FetchSessionStats() FetchSessionStats {
	c := s.sessions
	c.mu.Lock()
	defer c.mu.Unlock()
	st := FetchSessionStats{Sessions: len(c.sessions), Partitions: c.numPartitions,
		Incremental: c.incremental, FollowerIncremental: c.followerIncremental, Evictions: c.evictions}
	for _, fs := range c.sessions {
		if fs.privileged {
			st.FollowerSessions++
		}
	}
	return st
}
