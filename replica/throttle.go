package replica

import (
	"sync"
	"time"
)

// Follower-side replication throttling (Kafka's
// follower.replication.throttled.rate, KIP-73): the rate bounds what this
// broker fetches for throttled partitions from all its leaders together,
// one budget per broker, as Kafka's ReplicaFetcherThreads share one
// follower quota. A throttled partition is left out of a fetcher's next
// Fetch while the budget is spent (Kafka's shouldFollowerThrottle), and
// asks for no more than the budget left (the leader still returns one
// whole batch, KIP-74); what it fetched is charged after, so the budget
// may go into debt by one batch per partition. The leader's own
// leader.replication.throttled.rate is enforced by the leader.

// FollowerThrottle tells the fetchers which followed partitions are
// throttled and at what rate; the server implements it from the metadata.
// Its methods are called by every fetcher before each Fetch,
// concurrently, and must not block.
type FollowerThrottle interface {
	// FollowerRate is follower.replication.throttled.rate for this
	// broker, in bytes per second; negative means unthrottled.
	FollowerRate() int64
	// Reassigning reports whether a reassignment is adding this broker to
	// topic/partition and it is not in sync yet: its fetches are the ones
	// throttled, and counted as reassignment traffic.
	Reassigning(topic string, partition int32) bool
}

// followerBudget is the token bucket shared by all fetchers: bytes refill
// at the rate per second, up to one second's worth.
type followerBudget struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
	rate   int64
}

// grant brings the bucket up to now at rate and returns the bytes
// available (<= 0: none) and, when none, when some will be.
func (b *followerBudget) grant(now time.Time, rate int64) (avail int64, retry time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() || rate != b.rate {
		if b.last.IsZero() {
			b.tokens = float64(rate)
		}
		b.rate = rate
	} else {
		b.tokens += now.Sub(b.last).Seconds() * float64(rate)
	}
	b.tokens = min(b.tokens, float64(rate))
	b.last = now
	if b.tokens > 0 {
		return int64(b.tokens), time.Time{}
	}
	if rate <= 0 {
		return 0, now.Add(time.Second) // stopped: look again for a new rate
	}
	wait := time.Duration((1 - b.tokens) / float64(rate) * float64(time.Second))
	return 0, now.Add(wait)
}

// charge takes n fetched bytes from the bucket.
func (b *followerBudget) charge(n int) {
	b.mu.Lock()
	b.tokens -= float64(n)
	b.mu.Unlock()
}
