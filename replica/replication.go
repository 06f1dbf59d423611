package replica

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/wire"
)

// ISRChanger forwards ISR change proposals to the controller. The server
// implements it; replica only declares it, so that it never imports the
// metadata layer.
//
// ChangeISR asks that the ISR of topic/partition become newISR; leaderEpoch
// is the epoch at which this leader computed it, so the controller can
// reject proposals from a deposed leader. It may block (a Raft apply) and
// must honour ctx. It is called from one goroutine at a time and must not
// call back into the Manager synchronously. A nil error means the proposal
// was accepted; the partition adopts newISR only when the server calls
// BecomeLeader with it, once it is in the metadata.
type ISRChanger interface {
	ChangeISR(ctx context.Context, topic string, partition int32, leaderEpoch int32, newISR []int32) error
}

// Requester is one connection to a leader broker, as wire.Client provides:
// Request sends a request at the version set on it and returns the decoded
// response, honouring ctx; after an error the connection is discarded
// (Closed) and a new one dialled. Each fetcher uses its Requester from one
// goroutine.
type Requester interface {
	Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
	Close() error
}

// Dialer opens a Requester to the broker at addr ("host:port"); ctx bounds
// the dial. Tests inject one to count, fail or redirect connections.
type Dialer func(ctx context.Context, addr string) (Requester, error)

// ReplicationConfig configures leader-side ISR maintenance and follower
// fetching. Zero fields take the defaults of DefaultReplicationConfig; the
// Kafka property each one mirrors is named beside it.
type ReplicationConfig struct {
	// ISRChanger receives ISR proposals. Nil disables ISR maintenance
	// (a single broker, or tests of fetching alone).
	ISRChanger ISRChanger
	// LagTimeMax is replica.lag.time.max.ms: a follower not caught up for
	// this long is proposed for removal from the ISR. The ISR check runs
	// every LagTimeMax/2, as in Kafka.
	LagTimeMax time.Duration
	// FetchMaxWait is replica.fetch.wait.max.ms, the leader's long-poll.
	FetchMaxWait time.Duration
	// FetchMinBytes is replica.fetch.min.bytes.
	FetchMinBytes int32
	// FetchMaxBytes is replica.fetch.response.max.bytes.
	FetchMaxBytes int32
	// FetchPartitionMaxBytes is replica.fetch.max.bytes.
	FetchPartitionMaxBytes int32
	// FetchBackoff is replica.fetch.backoff.ms: the pause (jittered) after a
	// failed connection or a partition-level error.
	FetchBackoff time.Duration
	// RequestTimeout bounds a dial, and a request beyond FetchMaxWait.
	RequestTimeout time.Duration
	// Dialer opens connections to leaders; nil uses wire.DialWith over NetDial.
	Dialer Dialer
	// BrokerEpoch returns this broker's current broker epoch (its latest
	// registration's, KIP-903), sent with every follower fetch as
	// ReplicaState.Epoch: leaders refuse follower fetches at any other
	// epoch. Called by each fetcher before each Fetch, concurrently; it must
	// not block. Nil sends -1 ("none"), which Strom leaders refuse.
	BrokerEpoch func() int64
	// NetDial opens the raw connections of the default Dialer; nil is a
	// plain net.Dialer. For tests: the in-process cluster harness routes
	// follower fetches through its fault-injecting network. Production
	// leaves it nil.
	NetDial wire.DialFunc
	// FollowerThrottle, when set, throttles the replication of the
	// partitions it names to follower.replication.throttled.rate, over
	// all leaders together (throttle.go). Nil: nothing is throttled.
	FollowerThrottle FollowerThrottle
}

// DefaultReplicationConfig returns Kafka's defaults.
func DefaultReplicationConfig() ReplicationConfig {
	return ReplicationConfig{
		LagTimeMax:             30 * time.Second,
		FetchMaxWait:           500 * time.Millisecond,
		FetchMinBytes:          1,
		FetchMaxBytes:          10 << 20,
		FetchPartitionMaxBytes: 1 << 20,
		FetchBackoff:           time.Second,
		RequestTimeout:         30 * time.Second,
	}
}

func (c ReplicationConfig) withDefaults(self int32) ReplicationConfig {
	d := DefaultReplicationConfig()
	if c.LagTimeMax <= 0 {
		c.LagTimeMax = d.LagTimeMax
	}
	if c.FetchMaxWait <= 0 {
		c.FetchMaxWait = d.FetchMaxWait
	}
	if c.FetchMinBytes <= 0 {
		c.FetchMinBytes = d.FetchMinBytes
	}
	if c.FetchMaxBytes <= 0 {
		c.FetchMaxBytes = d.FetchMaxBytes
	}
	if c.FetchPartitionMaxBytes <= 0 {
		c.FetchPartitionMaxBytes = d.FetchPartitionMaxBytes
	}
	if c.FetchBackoff <= 0 {
		c.FetchBackoff = d.FetchBackoff
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.BrokerEpoch == nil {
		c.BrokerEpoch = func() int64 { return -1 }
	}
	if c.Dialer == nil {
		clientID := fmt.Sprintf("strom-replica-fetcher-%d", self)
		c.Dialer = func(ctx context.Context, addr string) (Requester, error) {
			cl, err := wire.DialWith(ctx, c.NetDial, addr, clientID)
			if err != nil {
				return nil, err
			}
			return cl, nil
		}
	}
	return c
}

// replication owns the follower fetchers and the ISR maintenance loop of a
// Manager.
//
// Lock order: replication.mu, then fetcher.mu, then Partition.mu.
// Manager.mu is never held together with replication.mu or fetcher.mu.
type replication struct {
	m      *Manager
	cfg    ReplicationConfig
	self   int32
	logger *slog.Logger

	ctx    context.Context // cancelled by close; parent of every fetcher's
	cancel context.CancelFunc
	wg     sync.WaitGroup // fetchers and the ISR loop; Add only under mu while !closed

	notifyMu sync.Mutex
	notify   chan struct{} // closed on leader appends with followers and on high watermark moves

	// isrKick (capacity 1) asks the ISR loop to run now: a follower outside
	// the ISR has caught up, and Kafka adds it back on that very fetch
	// rather than at the next periodic check.
	isrKick chan struct{}

	// bytesIn counts record bytes appended from leaders (metrics.go);
	// reassignBytesIn those of partitions a reassignment is adding us to.
	bytesIn, reassignBytesIn atomic.Int64

	// budget is follower.replication.throttled.rate's bucket, shared by
	// every fetcher (throttle.go).
	budget followerBudget

	mu       sync.Mutex
	closed   bool
	fetchers map[int32]*fetcher // by leader broker id
	owner    map[tp]int32       // which leader's fetcher holds each followed partition
}

func startReplication(m *Manager) *replication {
	ctx, cancel := context.WithCancel(context.Background())
	r := &replication{
		m:        m,
		cfg:      m.cfg.Replication.withDefaults(m.cfg.NodeID),
		self:     m.cfg.NodeID,
		logger:   m.logger,
		ctx:      ctx,
		cancel:   cancel,
		notify:   make(chan struct{}),
		isrKick:  make(chan struct{}, 1),
		fetchers: make(map[int32]*fetcher),
		owner:    make(map[tp]int32),
	}
	if r.cfg.ISRChanger != nil {
		r.wg.Add(1)
		go r.isrLoop()
	}
	return r
}

// kickISR asks the ISR loop for an early check; it never blocks.
func (r *replication) kickISR() {
	select {
	case r.isrKick <- struct{}{}:
	default:
	}
}

// close stops every fetcher and the ISR loop and waits for them.
func (r *replication) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// follow hands key to the fetcher of leaderID, taking it from any other.
func (r *replication) follow(key tp, p *Partition, topicID [16]byte, leaderID int32, addr string, epoch int32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if old, ok := r.owner[key]; ok && old != leaderID {
		r.removeLocked(key)
	}
	f := r.fetchers[leaderID]
	if f == nil {
		f = newFetcher(r, leaderID, addr)
		r.fetchers[leaderID] = f
		r.wg.Add(1)
		go f.run()
	}
	f.add(key, p, topicID, epoch, addr)
	r.owner[key] = leaderID
	return nil
}

// unfollow stops fetching key, if it was being fetched. When it returns, no
// fetcher writes to the partition any more.
func (r *replication) unfollow(key tp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeLocked(key)
}

func (r *replication) removeLocked(key tp) {
	leaderID, ok := r.owner[key]
	if !ok {
		return
	}
	delete(r.owner, key)
	f := r.fetchers[leaderID]
	if f == nil {
		return
	}
	if f.remove(key) == 0 {
		// Like Kafka's shutdownIdleFetcherThreads: a fetcher with nothing
		// to fetch goes away; r.wg still waits for it.
		delete(r.fetchers, leaderID)
		f.cancel()
	}
}

// LeaderGoneSince reports whether this broker follows partitions of leader
// id and its fetcher finds that broker's process gone, and since when: the
// connection was closed, reset or refused by the leader's host at every
// attempt since, as a killed or stopped broker's is, typically long before
// the controller fences it. Timeouts do not count (a cut-off or paused
// leader). False when nothing here follows id. Safe for concurrent use; it
// does not block on fetches.
func (m *Manager) LeaderGoneSince(id int32) (time.Time, bool) {
	if m.repl == nil {
		return time.Time{}, false
	}
	m.repl.mu.Lock()
	f := m.repl.fetchers[id]
	m.repl.mu.Unlock()
	if f == nil {
		return time.Time{}, false
	}
	ns := f.goneSince.Load()
	if ns == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

func (r *replication) leaderOf(key tp) (int32, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.owner[key]
	return id, ok
}

// ReplicaChanged returns a channel closed the next time a partition led here
// appends records while it has followers, or any high watermark moves.
// Replica fetches (ReplicaID >= 0) long-poll on it instead of Changed: they
// read to the log end, which moves on every append, while Changed only
// fires when what consumers may read changes.
func (m *Manager) ReplicaChanged() <-chan struct{} {
	m.repl.notifyMu.Lock()
	defer m.repl.notifyMu.Unlock()
	return m.repl.notify
}

func (r *replication) wakeReplicaFetches() {
	r.notifyMu.Lock()
	close(r.notify)
	r.notify = make(chan struct{})
	r.notifyMu.Unlock()
}

// BecomeFollower makes the hosted replica topic/partition a follower of
// broker leaderID (reachable at leaderAddr) at leaderEpoch and starts
// fetching from it, in the one fetcher this broker runs per leader. Called
// again with a new leader it moves the partition to that leader's fetcher;
// with a new epoch it truncates again (by OffsetForLeaderEpoch) before
// fetching; with the same leader and epoch it only updates the address.
// The partition must have been opened with its topic id (OpenTopicID;
// ErrNoTopicID otherwise), as fetches name topics by id. An epoch older than the replica's
// is ignored with ErrStaleLeaderEpoch. Safe for concurrent use; does not
// block on the network.
func (m *Manager) BecomeFollower(topic string, partition int32, leaderID int32, leaderAddr string, leaderEpoch int32) error {
	p, topicID := m.getWithID(topic, partition)
	if p == nil {
		return fmt.Errorf("%w: %s", ErrNotHosted, DirName(topic, partition))
	}
	if topicID == ([16]byte{}) {
		// Follower fetches name topics by id (Fetch v13+).
		return fmt.Errorf("%w: %s was opened without a topic id", ErrNoTopicID, DirName(topic, partition))
	}
	if leaderID == m.cfg.NodeID || leaderID < 0 || leaderAddr == "" {
		return fmt.Errorf("%w: %s: leader %d at %q, this broker is %d", ErrInvalidLeader, DirName(topic, partition), leaderID, leaderAddr, m.cfg.NodeID)
	}
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return ErrClosed
	case leaderEpoch < p.leaderEpoch, leaderEpoch == p.leaderEpoch && p.leader:
		cur := p.leaderEpoch
		p.mu.Unlock()
		return fmt.Errorf("%w: %s: asked to follow at %d, replica is at %d", ErrStaleLeaderEpoch, DirName(topic, partition), leaderEpoch, cur)
	}
	wasLeader := p.leader
	p.leader = false
	p.leaderEpoch = leaderEpoch
	p.mu.Unlock()
	if wasLeader {
		// acks=all producers still waiting get NOT_LEADER now rather than
		// at their timeout.
		p.wakeAcksWaiters()
	}
	return m.repl.follow(tp{topic, partition}, p, topicID, leaderID, leaderAddr, leaderEpoch)
}

// BecomeLeader stops any fetching for topic/partition and makes the replica
// the leader at epoch with the given ISR (Partition.BecomeLeader). The
// server calls it on every metadata change that concerns a partition led
// here, including ISR changes at the same epoch.
func (m *Manager) BecomeLeader(topic string, partition int32, epoch int32, isr []int32) error {
	p := m.Get(topic, partition)
	if p == nil {
		return fmt.Errorf("%w: %s", ErrNotHosted, DirName(topic, partition))
	}
	m.repl.unfollow(tp{topic, partition})
	p.BecomeLeader(epoch, isr)
	return nil
}

// StopFollowing stops fetching topic/partition (replica removed, or about to
// lead). When it returns no fetcher writes to the partition any more.
func (m *Manager) StopFollowing(topic string, partition int32) {
	m.repl.unfollow(tp{topic, partition})
}

// Following reports the broker whose fetcher holds topic/partition.
func (m *Manager) Following(topic string, partition int32) (leaderID int32, ok bool) {
	return m.repl.leaderOf(tp{topic, partition})
}

// isrLoop proposes ISR changes for the partitions led here, every
// LagTimeMax/2 (Kafka's isr-expiration task), until close.
func (r *replication) isrLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.LagTimeMax / 2)
	defer t.Stop()
	pending := make(map[tp]isrPending)
	for {
		select {
		case <-r.ctx.Done():
			return
		case now := <-t.C:
			r.checkISRs(now, pending)
		case <-r.isrKick:
			r.checkISRs(time.Now(), pending)
		}
	}
}

// isrPending is a proposal the controller accepted but metadata has not
// delivered yet; the same proposal is not repeated for LagTimeMax.
type isrPending struct {
	epoch int32
	isr   []int32
	at    time.Time
}

func (r *replication) checkISRs(now time.Time, pending map[tp]isrPending) {
	seen := make(map[tp]bool)
	for _, p := range r.m.Partitions() {
		key := tp{p.Topic, p.Index}
		newISR, epoch, ok := p.isrProposal(now, r.cfg.LagTimeMax)
		if !ok {
			continue
		}
		seen[key] = true
		if prev, ok := pending[key]; ok && prev.epoch == epoch && slices.Equal(prev.isr, newISR) && now.Sub(prev.at) < r.cfg.LagTimeMax {
			continue
		}
		if !p.beginProposal(epoch, newISR) {
			continue
		}
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.LagTimeMax)
		err := r.cfg.ISRChanger.ChangeISR(ctx, p.Topic, p.Index, epoch, newISR)
		cancel()
		p.endProposal(epoch, newISR, time.Now().Add(r.cfg.LagTimeMax))
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			r.logger.Warn("ISR change rejected", "topic", p.Topic, "partition", p.Index, "epoch", epoch, "isr", newISR, "err", err)
			delete(pending, key)
			continue
		}
		r.logger.Info("ISR change proposed", "topic", p.Topic, "partition", p.Index, "epoch", epoch, "from", p.ISR(), "to", newISR)
		pending[key] = isrPending{epoch: epoch, isr: newISR, at: now}
	}
	for key := range pending {
		if !seen[key] {
			delete(pending, key)
		}
	}
	// After the proposals, which refresh the additions they repeat.
	for _, p := range r.m.Partitions() {
		p.expirePendingAdditions(now)
	}
}
