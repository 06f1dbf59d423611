package server

// Client quota enforcement, Kafka's way (ClientQuotaManager, KIP-13,
// KIP-219): each broker measures, per quota entity, the bytes of Produce
// requests (producer_byte_rate) and of Fetch responses to consumers
// (consumer_byte_rate) over a sampled window of quotaSamples samples of
// quotaSampleSize; a request that takes the rate over the quota is answered
// at once with throttle_time_ms = (observed - quota) / quota * window,
// bounded by the whole window, and its connection is muted for that long
// (wire.Request.Throttle). Replica fetches are never throttled here.
//
// The quota that applies to (user, client id) is the most specific stored
// one, in Kafka's order: /users/u/clients/c, /users/u/clients/<default>,
// /users/u, /users/<default>/clients/c, /users/<default>/clients/<default>,
// /users/<default>, /clients/c, /clients/<default>. Its sensor is keyed by
// that entity with defaults filled in by the actual names, so a default
// quota gives each user (or client id) its own budget and a named one is
// shared by every connection it names.
//
// request_percentage (KIP-124) bounds the time a client's requests keep the
// broker's request handling busy, as a percentage of one thread over the
// window: each request's handling time (measured around the handler in
// ServeKafka, less a Fetch's long-poll wait) is recorded in percent-seconds
// and throttled with the same formula, bounded by one sample as in Kafka.
// A throttled consumer Fetch is answered empty (KIP-219), so its bytes
// are taken back out of the byte-rate sensor; a throttled Produce is
// appended and only its answer throttled, as in Kafka.

import (
	"math"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// Kafka's quota.window.num and quota.window.size.seconds defaults.
const (
	quotaSamples    = 11
	quotaSampleSize = time.Second
)

// rateSensor is a sampled rate: quotaSamples buckets of quotaSampleSize.
type rateSensor struct {
	start [quotaSamples]int64 // bucket start, in quotaSampleSize units; 0: unused
	total [quotaSamples]float64
}

func (r *rateSensor) record(now time.Time, n float64) {
	slot := now.UnixNano() / int64(quotaSampleSize)
	i := slot % quotaSamples
	if r.start[i] != slot {
		r.start[i], r.total[i] = slot, 0
	}
	r.total[i] += n
}

// measure is the rate per second and the window it was measured over:
// from the oldest live sample's start to now, padded like Kafka's Rate to
// at least quotaSamples-1 whole samples so a new sensor does not throttle
// on its first burst.
func (r *rateSensor) measure(now time.Time) (float64, time.Duration) {
	slot := now.UnixNano() / int64(quotaSampleSize)
	var sum float64
	oldest := slot
	for i := range r.start {
		if r.start[i] > slot-quotaSamples && r.start[i] <= slot {
			sum += r.total[i]
			oldest = min(oldest, r.start[i])
		}
	}
	elapsed := now.Sub(time.Unix(0, oldest*int64(quotaSampleSize)))
	if full := int(elapsed / quotaSampleSize); full < quotaSamples-1 {
		elapsed += time.Duration(quotaSamples-1-full) * quotaSampleSize
	}
	return sum / elapsed.Seconds(), elapsed
}

// quotaThrottle is Kafka's throttle time for a rate over quota, bounded by
// limit; zero when within quota.
func quotaThrottle(rate, quota float64, window, limit time.Duration) time.Duration {
	if quota <= 0 || rate <= quota {
		return 0
	}
	d := (rate - quota) / quota * float64(window)
	if d >= float64(limit) {
		return limit
	}
	return time.Duration(d)
}

// The bounds of a throttle: Kafka bounds a request-quota throttle by one
// sample (ClientRequestQuotaManager); Strom bounds byte-rate throttles by
// the whole window (Kafka leaves them unbounded).
const (
	byteThrottleLimit    = quotaSamples * quotaSampleSize
	requestThrottleLimit = quotaSampleSize
)

// clientSensor measures one quota entity: the quota's rate and, for
// metrics, the throttle times it handed out (Kafka's throttle-time sensor,
// an average over the same window). user and client are the entity's
// names as metric labels ("" when not part of the entity).
type clientSensor struct {
	rate          rateSensor
	throttleSum   rateSensor // milliseconds of throttle per sample
	throttleCount rateSensor // throttles per sample
	user, client  string
	used          time.Time // last recorded, for expiry (quota_metrics.go)
}

// quotaSensors holds the sensors of one quota key, by sensor key.
type quotaSensors struct {
	mu      sync.Mutex
	sensors map[string]*clientSensor
}

// quotaUse is one measurement against a quota: the value to record in the
// sensor of (user, client) for key, and the bound of the throttle.
type quotaUse struct {
	key, user, client string
	n                 float64
	limit             time.Duration
}

// recordAndThrottle records u in its entity's sensor and returns how long
// to throttle; zero when no quota of u.key applies. A throttle is counted
// in the sensor's throttle-time average.
func (q *quotaSensors) recordAndThrottle(st *raftmeta.State, u quotaUse, now time.Time) time.Duration {
	if len(st.Quotas) == 0 {
		return 0
	}
	quota, e, ok := resolveQuota(st, u.key, u.user, u.client)
	if !ok {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.sensorLocked(e)
	s.rate.record(now, u.n)
	s.used = now
	rate, window := s.rate.measure(now)
	d := quotaThrottle(rate, quota, window, u.limit)
	if d > 0 {
		s.throttleSum.record(now, float64(d.Milliseconds()))
		s.throttleCount.record(now, 1)
	}
	return d
}

// unrecord takes back n recorded by recordAndThrottle (Kafka's
// unrecordQuotaSensor: a throttled Fetch sends no records, so its bytes
// must not count).
func (q *quotaSensors) unrecord(st *raftmeta.State, key, user, client string, n float64, now time.Time) {
	if _, e, ok := resolveQuota(st, key, user, client); ok {
		q.mu.Lock()
		q.sensorLocked(e).rate.record(now, -n)
		q.mu.Unlock()
	}
}

// sensorLocked returns (creating) the sensor of entity e; q.mu held.
func (q *quotaSensors) sensorLocked(e raftmeta.QuotaEntity) *clientSensor {
	if q.sensors == nil {
		q.sensors = map[string]*clientSensor{}
	}
	k := e.QuotaKey()
	s := q.sensors[k]
	if s == nil {
		if len(q.sensors) >= maxQuotaSensors {
			clear(q.sensors) // bounded: forgetting rates only forgives
		}
		s = &clientSensor{}
		if e.User != nil {
			s.user = *e.User
		}
		if e.ClientID != nil {
			s.client = *e.ClientID
		}
		q.sensors[k] = s
	}
	return s
}

// maxQuotaSensors bounds the sensors kept per quota key.
const maxQuotaSensors = 100000

// resolveQuota finds the most specific quota of key for (user, client) in
// Kafka's precedence order, and the entity of the sensor that measures it
// (the quota's entity with defaults filled in by the actual names).
func resolveQuota(st *raftmeta.State, key, user, client string) (float64, raftmeta.QuotaEntity, bool) {
	def := ""
	u, c := &user, &client
	for _, e := range []raftmeta.QuotaEntity{
		{User: u, ClientID: c}, {User: u, ClientID: &def}, {User: u},
		{User: &def, ClientID: c}, {User: &def, ClientID: &def}, {User: &def},
		{ClientID: c}, {ClientID: &def},
	} {
		if (e.User == u && user == "") || (e.ClientID == c && client == "") {
			continue // an empty name is only ever the default
		}
		v, ok := st.Quotas[e.QuotaKey()].Values[key]
		if !ok {
			continue
		}
		sk := raftmeta.QuotaEntity{}
		if e.User != nil {
			sk.User = u
		}
		if e.ClientID != nil {
			sk.ClientID = c
		}
		return v, sk, true
	}
	return 0, raftmeta.QuotaEntity{}, false
}

// quotaUserOf is the quota user name of a request: its principal's name
// (ANONYMOUS when unauthenticated, as in Kafka).
func quotaUserOf(req *wire.Request) string {
	if req == nil || req.Conn == nil {
		return wire.Anonymous.Name
	}
	return req.Conn.Principal().Name
}

// throttleMillis is d as throttle_time_ms.
func throttleMillis(d time.Duration) int32 {
	return int32(min(d.Milliseconds(), math.MaxInt32))
}

// requestBusy is how long a request kept its handler busy: the time since
// start less the time it spent waiting (a Fetch's long poll), as a
// percentage of one thread over a second: Kafka's request_percentage unit.
func requestBusy(start time.Time, waited time.Duration) float64 {
	busy := max(time.Since(start)-waited, 0)
	return float64(busy) * 100 / float64(time.Second)
}

// requestThrottle records the handling time of req (busy, a percentage
// from requestBusy) against request_percentage and returns the throttle;
// it does not mute the connection.
func (s *Server) requestThrottle(st *raftmeta.State, req *wire.Request, busy float64) time.Duration {
	return s.requestQuota.recordAndThrottle(st, quotaUse{key: quotaRequestKey, user: quotaUserOf(req),
		client: req.ClientID, n: busy, limit: requestThrottleLimit}, time.Now())
}

// requestQuotaExempt reports whether a request is exempt from
// request_percentage, as in Kafka: inter-broker requests (replica fetches
// are exempted in fetchThrottle, a follower's OffsetForLeaderEpoch in
// throttleRequest), and the requests a connection makes
// before it is authenticated, which Kafka's network layer answers.
// JoinGroup and SyncGroup wait for the rebalance inside the handler, so
// their time is not recorded (Kafka parks them in purgatory, off its
// request threads), but they are throttled when the client is already over
// its quota. Produce and Fetch are throttled by their handlers, together
// with their byte rates.
func requestQuotaExempt(key int16) (exempt, recordTime bool) {
	switch key {
	case 17, 18, 36, 27: // SaslHandshake, ApiVersions, SaslAuthenticate, WriteTxnMarkers
		return true, false
	case 0, 1: // Produce, Fetch: produce.go, fetchThrottle
		return true, false
	case 11, 14: // JoinGroup, SyncGroup
		return false, false
	}
	return false, true
}

// throttleRequest applies request_percentage to a served request (other
// than Produce and Fetch): it records the handling time since start and,
// when over quota, sets the response's throttle_time_ms (keeping a larger
// one) and mutes the connection.
func (s *Server) throttleRequest(req *wire.Request, resp kmsg.Response, start time.Time) {
	st := s.meta.State()
	if len(st.Quotas) == 0 || resp == nil {
		return // the common case: no quota anywhere
	}
	exempt, recordTime := requestQuotaExempt(req.Key)
	if r, ok := req.Body.(*kmsg.OffsetForLeaderEpochRequest); exempt || (ok && r.ReplicaID >= 0) {
		return // a follower's OffsetForLeaderEpoch is replication, as a replica Fetch
	}
	busy := 0.0
	if recordTime {
		busy = requestBusy(start, 0)
	}
	d := s.requestThrottle(st, req, busy)
	if d <= 0 {
		return
	}
	req.Throttle(d)
	if tr, ok := resp.(kmsg.ThrottleResponse); ok {
		if cur, _ := tr.Throttle(); cur < throttleMillis(d) {
			resp.(kmsg.SetThrottleResponse).SetThrottle(throttleMillis(d))
		}
	}
}

// produceThrottle records a Produce's record bytes against
// producer_byte_rate and, unless acks=0 (which Kafka exempts), its
// handling time since start against request_percentage; it mutes the
// connection for the longer throttle and returns it as throttle_time_ms.
// The records are appended either way (Kafka throttles the answer, not
// the write).
func (s *Server) produceThrottle(req *wire.Request, r *kmsg.ProduceRequest, start time.Time) int32 {
	st := s.meta.State()
	if len(st.Quotas) == 0 {
		return 0 // the common case: no quota anywhere, nothing to count
	}
	var n int64
	for i := range r.Topics {
		for j := range r.Topics[i].Partitions {
			n += int64(len(r.Topics[i].Partitions[j].Records))
		}
	}
	d := s.produceQuota.recordAndThrottle(st, quotaUse{key: quotaProduceKey, user: quotaUserOf(req),
		client: req.ClientID, n: float64(n), limit: byteThrottleLimit}, time.Now())
	if r.Acks != 0 {
		d = max(d, s.requestThrottle(st, req, requestBusy(start, 0)))
	}
	req.Throttle(d)
	return throttleMillis(d)
}

// fetchThrottle applies a consumer Fetch's quotas, Kafka's way
// (KafkaApis.handleFetchRequest, KIP-219): the answer's record bytes count
// against consumer_byte_rate and its handling time (less its long-poll
// wait) against request_percentage; over either, the connection is muted
// for the longer throttle, the bytes are taken back out of the sensor, and
// the caller must send an empty answer (throttled true). Replica fetches
// are exempt from both.
func (s *Server) fetchThrottle(req *wire.Request, r *kmsg.FetchRequest, resp *kmsg.FetchResponse, start time.Time, waited time.Duration) (throttled bool) {
	st := s.meta.State()
	if fetchFromReplica(r) || len(st.Quotas) == 0 {
		return false
	}
	var n int64
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if b := resp.Topics[i].Partitions[j].RecordBatches; len(b) > 0 {
				n += req.SplicedLen(b)
			}
		}
	}
	user, now := quotaUserOf(req), time.Now()
	d := s.requestThrottle(st, req, requestBusy(start, waited))
	d = max(d, s.fetchQuota.recordAndThrottle(st, quotaUse{key: quotaConsumeKey, user: user,
		client: req.ClientID, n: float64(n), limit: byteThrottleLimit}, now))
	if d <= 0 {
		return false
	}
	s.fetchQuota.unrecord(st, quotaConsumeKey, user, req.ClientID, float64(n), now)
	req.Throttle(d)
	resp.ThrottleMillis = max(resp.ThrottleMillis, throttleMillis(d))
	return true
}

// fetchFromReplica reports whether a Fetch names a replica (a follower).
func fetchFromReplica(r *kmsg.FetchRequest) bool {
	return r.ReplicaID >= 0 || (r.Version >= 15 && r.ReplicaState.ID >= 0)
}

// fetchQuotaBytes caps a consumer Fetch's response size at what its
// consumer_byte_rate allows in one window with nothing else recorded
// (Kafka's getMaxValueInQuotaWindow: quota × (samples − 1) × sample
// size): asking for more would always be throttled. As always, the first
// batch is returned whole even when larger (KIP-74).
func (s *Server) fetchQuotaBytes(req *wire.Request, maxBytes int) int {
	st := s.meta.State()
	if len(st.Quotas) == 0 {
		return maxBytes
	}
	q, _, ok := resolveQuota(st, quotaConsumeKey, quotaUserOf(req), req.ClientID)
	if !ok {
		return maxBytes
	}
	w := q * (quotaSamples - 1) * quotaSampleSize.Seconds()
	if w < float64(maxBytes) {
		return max(int(w), 1)
	}
	return maxBytes
}
