package server

// Replication throttling for partition reassignment (Kafka's
// leader.replication.throttled.rate and follower.replication.throttled.rate,
// KIP-73), as dynamic broker configs set with IncrementalAlterConfigs or
// AlterConfigs on a BROKER resource (this broker's id, or "" for the
// cluster-wide default), stored in the metadata log.
//
// What Strom throttles: replica fetches, served by a partition's leader,
// from a replica being added by a running reassignment (AddingReplicas).
// Kafka throttles the replicas listed in the topic's
// *.replication.throttled.replicas configs, which its reassignment tool
// sets to the moving ones; Strom uses the reassignment state directly.
// Both rates are enforced with token buckets (bytes per second, one second
// of burst), where Kafka enforces them: the leader's
// leader.replication.throttled.rate on the leader, over all such fetches
// it serves, and a follower's follower.replication.throttled.rate on the
// follower, over everything it fetches for such partitions from all its
// leaders together (replica/throttle.go, fed by followerThrottle). On the
// leader, a throttled partition gets no records in that answer (its
// offsets only), as Kafka leaves throttled partitions out once over quota;
// a throttled partition's answer is capped at the tokens left (but holds
// one whole batch, KIP-74), and its bytes are charged after they are sent,
// so a bucket may go into debt by one batch. Unset or negative rates mean
// no throttle; 0 stops the adding replicas entirely.

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
)

// The dynamic broker configs: the only keys a BROKER resource accepts.
const (
	leaderThrottleKey   = "leader.replication.throttled.rate"
	followerThrottleKey = "follower.replication.throttled.rate"
)

// dynamicBrokerKey reports whether name is a dynamic broker config.
func dynamicBrokerKey(name string) bool {
	return name == leaderThrottleKey || name == followerThrottleKey
}

// alterBrokerConfigs validates want (the complete new dynamic configs of
// broker id, or raftmeta.DefaultBrokerConfigs) and writes the difference.
func (s *Server) alterBrokerConfigs(ctx context.Context, id int32, validateOnly bool, next func(map[string]string) (map[string]string, error)) error {
	cur := maps.Clone(s.meta.State().BrokerConfigs[id])
	if cur == nil {
		cur = map[string]string{}
	}
	want, err := next(maps.Clone(cur))
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if !dynamicBrokerKey(k) {
			return fmt.Errorf("%w (config %q); only %s and %s can change at runtime", errDynamicBrokerConfig, k, leaderThrottleKey, followerThrottleKey)
		}
		if _, err := strconv.ParseInt(want[k], 10, 64); err != nil {
			return fmt.Errorf("%w: %s must be a number of bytes per second, got %q", errInvalidConfig, k, want[k])
		}
	}
	ops := configDiff(cur, want)
	if validateOnly || len(ops) == 0 {
		return nil
	}
	return s.meta.AlterBrokerConfigs(ctx, id, ops)
}

// tokenBucket is a rate limiter in bytes: tokens refill at rate per second
// up to one second's worth and may go negative (debt) when charged.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

// replThrottle holds the leader's bucket; safe for concurrent use.
type replThrottle struct {
	mu     sync.Mutex
	leader tokenBucket
}

// rateOf reads a dynamic throttle rate for broker id; -1 when unset.
func rateOf(st *raftmeta.State, id int32, key string) int64 {
	v, ok := st.BrokerConfig(id, key)
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// refill brings b up to now at rate.
func (b *tokenBucket) refill(now time.Time, rate int64) {
	if !b.last.IsZero() {
		b.tokens += now.Sub(b.last).Seconds() * float64(rate)
	} else {
		b.tokens = float64(rate)
	}
	b.tokens = min(b.tokens, float64(rate))
	b.last = now
}

// throttledFetch reports whether a replica fetch by follower of partition
// p is subject to the leader's throttle (a reassignment is adding
// follower, and leader.replication.throttled.rate is set) and, if so, how
// many bytes the bucket grants now (<= 0: none).
func (s *Server) throttledFetch(follower int32, p *raftmeta.Partition) (throttled bool, budget int64) {
	if !slices.Contains(p.AddingReplicas, follower) {
		return false, 0
	}
	lr := rateOf(s.meta.State(), s.cfg.NodeID, leaderThrottleKey)
	if lr < 0 {
		return false, 0
	}
	t := &s.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	t.leader.refill(time.Now(), lr)
	return true, min(int64(t.leader.tokens), math.MaxInt32)
}

// chargeThrottle takes n bytes sent to a throttled follower from the
// leader's bucket.
func (s *Server) chargeThrottle(n int) {
	t := &s.throttle
	t.mu.Lock()
	defer t.mu.Unlock()
	t.leader.tokens -= float64(n)
}

// followerThrottle is replica.FollowerThrottle from the metadata: this
// broker's follower.replication.throttled.rate, applied to the partitions
// a reassignment is adding it to while it is not in their ISR (Kafka
// throttles only replicas out of sync, and its reassignment tool lists the
// moving ones in follower.replication.throttled.replicas).
type followerThrottle struct{ s *Server }

func (f followerThrottle) FollowerRate() int64 {
	return rateOf(f.s.meta.State(), f.s.cfg.NodeID, followerThrottleKey)
}

func (f followerThrottle) Reassigning(topic string, partition int32) bool {
	t := f.s.meta.State().Topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return false
	}
	p := &t.Partitions[partition]
	self := f.s.cfg.NodeID
	return slices.Contains(p.AddingReplicas, self) && !slices.Contains(p.ISR, self)
}

// applyIncrementalBroker applies IncrementalAlterConfigs SET and DELETE
// operations to a broker's dynamic configs (alterBrokerConfigs checks the
// keys); APPEND and SUBTRACT apply to list configs, and none is dynamic.
func applyIncrementalBroker(cur map[string]string, cfgs []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, error) {
	seen := make(map[string]bool, len(cfgs))
	for _, c := range cfgs {
		if seen[c.Name] {
			return nil, fmt.Errorf("%w: config %q is given more than once", errInvalidRequest, c.Name)
		}
		seen[c.Name] = true
		switch {
		case c.Op == kmsg.IncrementalAlterConfigOpSet && c.Value != nil:
			cur[c.Name] = *c.Value
		case c.Op == kmsg.IncrementalAlterConfigOpDelete:
			delete(cur, c.Name)
		default:
			return nil, fmt.Errorf("%w: operation %s (value %v) on broker config %q", errInvalidConfig, c.Op, c.Value != nil, c.Name)
		}
	}
	return cur, nil
}

// dynamicBrokerEntries describes the dynamic broker configs of broker id
// (raftmeta.DefaultBrokerConfigs: the cluster-wide default resource):
// DYNAMIC_BROKER_CONFIG when set on the broker, else
// DYNAMIC_DEFAULT_BROKER_CONFIG when set cluster-wide, else the default
// (-1, unthrottled), as Kafka lists them. The default resource lists only
// the configs set on it.
func (s *Server) dynamicBrokerEntries(id int32) []configEntry {
	st := s.meta.State()
	var out []configEntry
	for _, key := range []string{followerThrottleKey, leaderThrottleKey} {
		e := configEntry{name: key, value: "-1", source: kmsg.ConfigSourceDefaultConfig, typ: typeLong,
			doc: "bytes per second of replication to replicas being added by a reassignment; -1 means unthrottled"}
		var syn []configSynonym
		if v, ok := st.BrokerConfigs[id][key]; ok && id != raftmeta.DefaultBrokerConfigs {
			syn = append(syn, configSynonym{key, v, kmsg.ConfigSourceDynamicBrokerConfig})
		}
		if v, ok := st.BrokerConfigs[raftmeta.DefaultBrokerConfigs][key]; ok {
			syn = append(syn, configSynonym{key, v, kmsg.ConfigSourceDynamicDefaultBrokerConfig})
		}
		if len(syn) == 0 && id == raftmeta.DefaultBrokerConfigs {
			continue
		}
		syn = append(syn, configSynonym{key, "-1", kmsg.ConfigSourceDefaultConfig})
		e.value, e.source, e.synonyms = syn[0].value, syn[0].source, syn
		out = append(out, e)
	}
	return out
}
