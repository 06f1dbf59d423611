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
// shared by every connection it names. request_percentage is stored and
// described but not enforced.

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
// the whole window; zero when within quota.
func quotaThrottle(rate, quota float64, window time.Duration) time.Duration {
	if quota <= 0 || rate <= quota {
		return 0
	}
	limit := quotaSamples * quotaSampleSize
	d := (rate - quota) / quota * float64(window)
	if d >= float64(limit) {
		return limit
	}
	return time.Duration(d)
}

// quotaSensors holds the sensors of one quota key, by sensor key.
type quotaSensors struct {
	mu      sync.Mutex
	sensors map[string]*rateSensor
}

// recordAndThrottle adds n bytes to the sensor of the entity and returns
// how long to throttle; zero when no quota of key applies.
func (q *quotaSensors) recordAndThrottle(st *raftmeta.State, key, user, client string, n float64, now time.Time) time.Duration {
	if len(st.Quotas) == 0 {
		return 0
	}
	quota, sensorKey, ok := resolveQuota(st, key, user, client)
	if !ok {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.sensors == nil {
		q.sensors = map[string]*rateSensor{}
	}
	s := q.sensors[sensorKey]
	if s == nil {
		if len(q.sensors) >= maxQuotaSensors {
			clear(q.sensors) // bounded: forgetting rates only forgives
		}
		s = &rateSensor{}
		q.sensors[sensorKey] = s
	}
	s.record(now, n)
	rate, window := s.measure(now)
	return quotaThrottle(rate, quota, window)
}

// maxQuotaSensors bounds the sensors kept per quota key.
const maxQuotaSensors = 100000

// resolveQuota finds the most specific quota of key for (user, client) in
// Kafka's precedence order, and the key of the sensor that measures it.
func resolveQuota(st *raftmeta.State, key, user, client string) (float64, string, bool) {
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
		return v, "k" + sk.QuotaKey(), true
	}
	return 0, "", false
}

// quotaUserOf is the quota user name of a request: its principal's name
// (ANONYMOUS when unauthenticated, as in Kafka).
func quotaUserOf(req *wire.Request) string {
	if req == nil || req.Conn == nil {
		return wire.Anonymous.Name
	}
	return req.Conn.Principal().Name
}

// throttleFor records n bytes of the request against key's quota and, when
// over it, mutes the connection; it returns throttle_time_ms.
func (s *Server) throttleFor(q *quotaSensors, key string, req *wire.Request, n int64) int32 {
	d := q.recordAndThrottle(s.meta.State(), key, quotaUserOf(req), req.ClientID, float64(n), time.Now())
	if d <= 0 {
		return 0
	}
	req.Throttle(d)
	return int32(min(d.Milliseconds(), math.MaxInt32))
}

// produceThrottle records a Produce's record bytes against
// producer_byte_rate and returns its throttle_time_ms.
func (s *Server) produceThrottle(req *wire.Request, r *kmsg.ProduceRequest) int32 {
	if len(s.meta.State().Quotas) == 0 {
		return 0 // the common case: no quota anywhere, nothing to count
	}
	var n int64
	for i := range r.Topics {
		for j := range r.Topics[i].Partitions {
			n += int64(len(r.Topics[i].Partitions[j].Records))
		}
	}
	return s.throttleFor(&s.produceQuota, quotaProduceKey, req, n)
}

// fetchThrottle records a consumer Fetch answer's record bytes against
// consumer_byte_rate and sets its throttle_time_ms. Unlike Kafka, a
// throttled answer still carries its records (Kafka sends an empty one).
func (s *Server) fetchThrottle(req *wire.Request, r *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	if r.ReplicaID >= 0 || (r.Version >= 15 && r.ReplicaState.ID >= 0) || len(s.meta.State().Quotas) == 0 {
		return
	}
	var n int64
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if b := resp.Topics[i].Partitions[j].RecordBatches; len(b) > 0 {
				n += req.SplicedLen(b)
			}
		}
	}
	resp.ThrottleMillis = max(resp.ThrottleMillis, s.throttleFor(&s.fetchQuota, quotaConsumeKey, req, n))
}
