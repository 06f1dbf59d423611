package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/replica"
)

// OffsetsTopic is Kafka's internal topic for committed offsets and group
// metadata; its partitions are handed to Groups as leadership moves.
const OffsetsTopic = "__consumer_offsets"

// ErrClosed is returned by Wait once the reconciler has stopped.
var ErrClosed = errors.New("reconciler: closed")

// Meta is the applied metadata the reconciler follows; *raftmeta.Node
// implements it. Neither call blocks.
type Meta interface {
	State() *raftmeta.State
	Changed() <-chan struct{}
}

// Replicas hosts this broker's partition replicas; *replica.Manager
// implements it. Called from the reconciler's goroutine only; OpenTopicID
// may be slow (log recovery). OpenTopicID gets the topic's id so that a
// replica left from a deleted topic of the same name is never served as the
// new topic's (replica's partition.metadata).
type Replicas interface {
	OpenTopicID(topic string, partition int32, topicID [16]byte, set replica.Settings) (*replica.Partition, error)
	BecomeLeader(topic string, partition, leaderEpoch int32, isr []int32) error
	BecomeFollower(topic string, partition, leader int32, leaderAddr string, leaderEpoch int32) error
	StopFollowing(topic string, partition int32)
	Hosted(topic string, partition int32) bool
	Partitions() []*replica.Partition
	Remove(topic string, partition int32) error
}

// Groups is the group coordinator's side of __consumer_offsets leadership.
// Load replays a partition and may take long; it runs on a goroutine of its
// own and must return soon after ctx ends. Unload is called only after the
// partition's Load has returned, so the two never race.
type Groups interface {
	Load(ctx context.Context, partition int32, part *replica.Partition) error
	Unload(partition int32)
}

// Config configures a Reconciler.
type Config struct {
	NodeID int32
	// InterBrokerListener names the listener followers fetch from (the
	// first listener when empty or unknown).
	InterBrokerListener string
	// Settings turns a topic's configs into its replicas' settings.
	Settings func(*raftmeta.Topic) replica.Settings
	// LoadRetry spaces retries of a group partition load that failed.
	// 0 means one second.
	LoadRetry time.Duration
	Logger    *slog.Logger // nil discards
}

// Reconciler makes the replicas this broker hosts match the applied
// metadata: it opens what this broker should host, makes each replica lead,
// follow or wait as its partition's leader says, hands __consumer_offsets
// partitions it leads to the group coordinator, and removes replicas of
// deleted topics or moved partitions.
//
// One goroutine owns all of it (Start, Close): passes run one at a time, on
// every metadata change, and no lock is held while a pass works, so a client
// request never waits behind a log recovery or a group replay. Handlers that
// must see their own metadata write take effect locally call Wait with the
// applied index they need.
type Reconciler struct {
	cfg      Config
	meta     Meta
	replicas Replicas
	groups   Groups
	logger   *slog.Logger

	mu      sync.Mutex
	applied uint64        // guarded by mu: State.Index of the last finished pass
	passed  chan struct{} // guarded by mu: closed and replaced after each pass
	stopped bool          // guarded by mu

	loads map[int32]*groupLoad // owner goroutine only
	retry chan struct{}        // a failed load asks for another pass
	seen  applied              // owner goroutine only

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// applied is what earlier passes put into effect, so that a pass does only
// what changed: raftmeta's states are copy-on-write, so a topic whose
// *Topic is the one a pass already applied in full has nothing new, and
// leader addresses come from the broker map. Without it every metadata
// change (each of 3 000 topic creations) walked every partition hosted.
type applied struct {
	topics  map[string]appliedTopic   // by name
	brokers map[int32]raftmeta.Broker // the map those were applied with
}

// appliedTopic is the *Topic a pass last applied and whether all of it
// took (if not, the next pass applies it again).
type appliedTopic struct {
	t  *raftmeta.Topic
	ok bool
}

// groupLoad is one __consumer_offsets partition handed to Groups.Load.
type groupLoad struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Load returned
	err    error         // Load's result; read only after done
}

// New builds a reconciler; Start runs it.
func New(cfg Config, meta Meta, replicas Replicas, groups Groups) *Reconciler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LoadRetry <= 0 {
		cfg.LoadRetry = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Reconciler{
		cfg: cfg, meta: meta, replicas: replicas, groups: groups, logger: cfg.Logger,
		passed: make(chan struct{}), loads: make(map[int32]*groupLoad),
		retry: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
	}
}

// Start launches the owner goroutine; its first pass starts at once.
func (r *Reconciler) Start() {
	r.wg.Add(1)
	go r.run()
}

// Close stops the reconciler: it cancels group loads in flight and waits
// for the current pass and every load to end. Wait callers get ErrClosed.
// Safe to call more than once.
func (r *Reconciler) Close() {
	r.once.Do(func() {
		r.cancel()
		r.wg.Wait()
		r.mu.Lock()
		r.stopped = true
		close(r.passed)
		r.mu.Unlock()
	})
}

// Wait blocks until a pass has reconciled a state with Index >= index (so
// every metadata change applied up to index is reflected in the local
// replicas), ctx ends (its error), or the reconciler stops (ErrClosed).
func (r *Reconciler) Wait(ctx context.Context, index uint64) error {
	for {
		r.mu.Lock()
		applied, passed, stopped := r.applied, r.passed, r.stopped
		r.mu.Unlock()
		switch {
		case applied >= index:
			return nil
		case stopped:
			return ErrClosed
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("reconciler: waiting for metadata index %d (at %d): %w", index, applied, ctx.Err())
		case <-passed:
		}
	}
}

// run is the owner goroutine: a pass per metadata change (changes during a
// pass coalesce into the next one) and per failed group load.
func (r *Reconciler) run() {
	defer r.wg.Done()
	defer r.stopLoads()
	for {
		changed := r.meta.Changed()
		r.pass()
		select {
		case <-r.ctx.Done():
			return
		case <-changed:
		case <-r.retry:
		}
	}
}

// pass reconciles once against the latest state and publishes its index.
// Topics applied before and unchanged since are skipped, unless the broker
// map changed (leader addresses); __consumer_offsets is always applied (its
// group loads retry through passes), and so is a topic whose replicas
// failed to open or take their leadership, until they succeed.
func (r *Reconciler) pass() {
	st := r.meta.State()
	self := r.cfg.NodeID
	full := r.seen.topics == nil || !sameBrokers(r.seen.brokers, st.Brokers)
	if full {
		r.seen = applied{topics: map[string]appliedTopic{}, brokers: st.Brokers}
	}
	// A topic that changed may have moved replicas away from here (drop
	// them); a new one cannot, so creating topics costs no walk of all
	// hosted replicas.
	var changed []*raftmeta.Topic
	drop := full
	for name, t := range st.Topics {
		prev, known := r.seen.topics[name]
		if prev.t == t && prev.ok && name != OffsetsTopic {
			continue
		}
		changed = append(changed, t)
		drop = drop || (known && prev.t != t)
	}
	for name := range r.seen.topics {
		if st.Topics[name] == nil {
			delete(r.seen.topics, name)
			drop = true
		}
	}
	r.preopen(changed)
	for _, t := range changed {
		ok := true
		for _, p := range t.Partitions {
			if r.ctx.Err() != nil {
				return
			}
			if slices.Contains(p.Replicas, self) {
				ok = r.host(st, t, p) && ok
			}
		}
		r.seen.topics[t.Name] = appliedTopic{t, ok}
	}
	if drop {
		r.dropUnwanted(st)
	}
	r.mu.Lock()
	r.applied = max(r.applied, st.Index)
	close(r.passed)
	r.passed = make(chan struct{})
	r.mu.Unlock()
}

// sameBrokers reports whether two broker maps hold the same registrations.
func sameBrokers(a, b map[int32]raftmeta.Broker) bool {
	return maps.EqualFunc(a, b, func(x, y raftmeta.Broker) bool { return reflect.DeepEqual(x, y) })
}

// preopenWorkers is how many replicas preopen opens at once. Opening is
// mostly waiting for the disk (a directory fsync per partition, recovery
// reads), so more than the cores; concurrent fsyncs share journal commits.
const preopenWorkers = 16

// preopen opens, concurrently, the replicas of topics that the state places
// here and that are not open yet (all of them at start-up), so that a
// broker with thousands of partitions does not open and recover them one
// after another; host then finds them open. A replica that fails to open
// here is opened (and its error logged) by host.
func (r *Reconciler) preopen(topics []*raftmeta.Topic) {
	type job struct {
		t *raftmeta.Topic
		p int32
	}
	var jobs []job
	for _, t := range topics {
		for _, p := range t.Partitions {
			if slices.Contains(p.Replicas, r.cfg.NodeID) && !r.replicas.Hosted(t.Name, p.Index) {
				jobs = append(jobs, job{t, p.Index})
			}
		}
	}
	if len(jobs) < 2 {
		return
	}
	ch := make(chan job)
	var wg sync.WaitGroup
	for range min(preopenWorkers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				_, _ = r.replicas.OpenTopicID(j.t.Name, j.p, j.t.ID, r.cfg.Settings(j.t))
			}
		}()
	}
	defer wg.Wait()
	defer close(ch)
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-r.ctx.Done():
			return
		}
	}
}

// host opens one replica this broker should host and applies its
// leadership (and, for __consumer_offsets, its group coordination). It
// reports whether all of that succeeded.
func (r *Reconciler) host(st *raftmeta.State, t *raftmeta.Topic, p raftmeta.Partition) bool {
	part, err := r.replicas.OpenTopicID(t.Name, p.Index, t.ID, r.cfg.Settings(t))
	if err != nil {
		r.logger.Error("cannot open partition", "topic", t.Name, "partition", p.Index, "err", err)
		return false
	}
	ok := r.syncLeadership(st, t.Name, p, part)
	if t.Name == OffsetsTopic {
		r.syncGroupPartition(p.Index, part, p.Leader == r.cfg.NodeID)
	}
	return ok
}

// dropUnwanted removes hosted replicas the metadata no longer places here.
func (r *Reconciler) dropUnwanted(st *raftmeta.State) {
	for _, part := range r.replicas.Partitions() {
		if t := st.Topics[part.Topic]; t != nil && hostedHere(t, part.Index, r.cfg.NodeID) {
			continue
		}
		if part.Topic == OffsetsTopic {
			r.syncGroupPartition(part.Index, nil, false)
		}
		if err := r.replicas.Remove(part.Topic, part.Index); err != nil {
			r.logger.Error("cannot remove partition", "topic", part.Topic, "partition", part.Index, "err", err)
		}
	}
}

// hostedHere reports whether t places partition index on broker self.
func hostedHere(t *raftmeta.Topic, index, self int32) bool {
	return index >= 0 && int(index) < len(t.Partitions) && slices.Contains(t.Partitions[index].Replicas, self)
}

// syncLeadership makes a hosted replica lead, follow the elected leader, or
// wait (offline partition) as the metadata says.
func (r *Reconciler) syncLeadership(st *raftmeta.State, topic string, p raftmeta.Partition, part *replica.Partition) bool {
	var err error
	switch {
	case p.Leader == r.cfg.NodeID:
		if err = r.replicas.BecomeLeader(topic, p.Index, p.LeaderEpoch, p.ISR); err == nil {
			part.KeepFollowers(p.Replicas) // a reassignment may have removed some
		}
	case p.Leader >= 0:
		b, ok := st.Brokers[p.Leader]
		if !ok {
			err = fmt.Errorf("leader %d is not a registered broker", p.Leader)
			break
		}
		l := InterBrokerListener(b, r.cfg.InterBrokerListener)
		err = r.replicas.BecomeFollower(topic, p.Index, p.Leader, net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))), p.LeaderEpoch)
	default:
		r.replicas.StopFollowing(topic, p.Index)
		part.BecomeFollower(p.LeaderEpoch)
	}
	if err != nil && !errors.Is(err, replica.ErrStaleLeaderEpoch) {
		r.logger.Warn("cannot apply partition leadership", "topic", topic, "partition", p.Index, "leader", p.Leader, "epoch", p.LeaderEpoch, "err", err)
		return false
	}
	return true
}

// InterBrokerListener is the endpoint brokers use to reach b: the named
// inter-broker listener, else b's first listener.
func InterBrokerListener(b raftmeta.Broker, name string) raftmeta.Listener {
	for _, l := range b.Listeners {
		if l.Name == name {
			return l
		}
	}
	if len(b.Listeners) > 0 {
		return b.Listeners[0]
	}
	return raftmeta.Listener{}
}

// syncGroupPartition starts replaying a __consumer_offsets partition this
// broker now leads, in the background, or stops serving one it no longer
// leads (cancelling a replay in flight and waiting for it first, so that
// Load and Unload of one partition never overlap). A failed load is
// retried after Config.LoadRetry.
func (r *Reconciler) syncGroupPartition(idx int32, part *replica.Partition, lead bool) {
	l := r.loads[idx]
	if l != nil && !lead {
		l.cancel()
		<-l.done
		delete(r.loads, idx)
		r.groups.Unload(idx)
		return
	}
	if l != nil && failed(l) {
		delete(r.loads, idx)
		l = nil
	}
	if l != nil || !lead {
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	l = &groupLoad{cancel: cancel, done: make(chan struct{})}
	r.loads[idx] = l
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(l.done)
		l.err = r.groups.Load(ctx, idx, part)
		if l.err == nil || ctx.Err() != nil {
			return
		}
		r.logger.Error("cannot load group partition; will retry", "partition", idx, "err", l.err)
		select {
		case <-ctx.Done():
		case <-time.After(r.cfg.LoadRetry):
			select {
			case r.retry <- struct{}{}:
			default:
			}
		}
	}()
}

// failed reports whether a load has returned with an error.
func failed(l *groupLoad) bool {
	select {
	case <-l.done:
		return l.err != nil
	default:
		return false
	}
}

// stopLoads cancels every group load and waits for it; the partitions stay
// loaded in the coordinator, which the server closes itself.
func (r *Reconciler) stopLoads() {
	for idx, l := range r.loads {
		l.cancel()
		<-l.done
		delete(r.loads, idx)
	}
}
