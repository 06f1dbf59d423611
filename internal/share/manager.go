package share

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Persister reads and writes share-partition state at the share
// coordinator of its key, which may be this broker (Store) or another one
// (ReadShareGroupState / WriteShareGroupState). It may block and must
// honour ctx; it is called concurrently for different keys.
type Persister interface {
	Read(ctx context.Context, k Key) (State, bool, error)
	Write(ctx context.Context, k Key, st State) error
}

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// LockDuration is group.share.record.lock.duration.ms.
	LockDuration time.Duration
	// DeliveryLimit is group.share.delivery.count.limit.
	DeliveryLimit int16
	// MaxRecordLocks is group.share.partition.max.record.locks: the most
	// offsets in flight (acquired or available for redelivery) per
	// share-partition.
	MaxRecordLocks int
	// MaxSessions is the most share sessions this broker keeps (Kafka's
	// group.share.max.share.sessions); more are SHARE_SESSION_LIMIT_REACHED.
	MaxSessions int
	Persister   Persister
	Logger      *slog.Logger
}

// Manager is the share-partition manager of a broker (Kafka's
// SharePartitionManager): the share-partitions of the topic partitions it
// leads, and the share sessions of the members fetching from it. Records
// are acquired here; every acknowledgement, release and lock expiry is
// persisted through the Persister before it is answered.
//
// Concurrency: safe for concurrent use. Manager.mu guards the maps and
// the change channel; SharePartition.mu serialises one share-partition and
// is held across its persister writes. Lock order: Manager.mu, then
// SharePartition.mu; never take Manager.mu (notify included) while holding
// a SharePartition.mu.
type Manager struct {
	cfg ManagerConfig
	log *slog.Logger

	loadMu   sync.Mutex // serialises loads (Get)
	mu       sync.Mutex
	parts    map[Key]*SharePartition
	sessions map[sessionKey]*session
	changed  chan struct{}

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the expiry loop and the connection watchers
	now    func() time.Time
}

type sessionKey struct{ group, member string }

// TopicPartition is a partition of a topic by id.
type TopicPartition struct {
	TopicID   [16]byte
	Partition int32
}

type session struct {
	epoch int32 // the epoch the next request must carry
	parts map[TopicPartition]struct{}
	ended chan struct{} // closed when the session is replaced or closed: its watcher exits
}

// NewManager starts a manager and its lock-expiry loop; Close stops it.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LockDuration <= 0 {
		cfg.LockDuration = 30 * time.Second
	}
	if cfg.DeliveryLimit <= 0 {
		cfg.DeliveryLimit = 5
	}
	if cfg.MaxRecordLocks <= 0 {
		cfg.MaxRecordLocks = 2000
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 2000
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		cfg: cfg, log: cfg.Logger, parts: make(map[Key]*SharePartition),
		sessions: make(map[sessionKey]*session), changed: make(chan struct{}),
		ctx: ctx, cancel: cancel, now: time.Now,
	}
	m.wg.Add(1)
	go m.expireLoop(ctx)
	return m
}

// Close stops the expiry loop and waits for it.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
}

// LockDuration is the acquisition lock timeout given to clients.
func (m *Manager) LockDuration() time.Duration { return m.cfg.LockDuration }

// Changed returns a channel closed at the next release of records
// (acknowledged as released, lock expired, session closed), for parked
// ShareFetch requests.
func (m *Manager) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

func (m *Manager) notify() {
	m.mu.Lock()
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

// expireLoop releases records whose acquisition lock ran out.
func (m *Manager) expireLoop(ctx context.Context) {
	defer m.wg.Done()
	tick := min(max(m.cfg.LockDuration/10, 10*time.Millisecond), 250*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.expireAll(ctx)
		}
	}
}

func (m *Manager) expireAll(ctx context.Context) {
	m.mu.Lock()
	parts := make([]*SharePartition, 0, len(m.parts))
	for _, sp := range m.parts {
		parts = append(parts, sp)
	}
	m.mu.Unlock()
	now := m.now()
	released := false
	for _, sp := range parts {
		sp.mu.Lock()
		if e := sp.p.NextExpiry(); !sp.stale && !e.IsZero() && !e.After(now) {
			err := sp.mutate(ctx, func(p *Partition) bool { return p.Expire(now) })
			if err != nil {
				m.log.Warn("cannot persist expired acquisition locks", "group", sp.key.Group, "partition", sp.key.Partition, "err", err)
			}
			released = true
		}
		sp.mu.Unlock()
	}
	if released {
		m.notify()
	}
}

// SharePartition is one share-partition on its partition's leader.
type SharePartition struct {
	m   *Manager
	key Key

	mu          sync.Mutex
	leaderEpoch int32
	stateEpoch  int32
	stale       bool // fenced or replaced: never used again
	p           *Partition
	recheck     atomic.Bool // a new session asks to check the state epoch
}

// Get returns the share-partition k on a leader at leaderEpoch, loading
// it from the persister when it is not loaded at that epoch. A partition
// never initialised starts at initStart() (share.auto.offset.reset),
// persisted at once so that a restart does not move it. Loads are
// serialised (loadMu), so one share-partition is never loaded twice.
func (m *Manager) Get(ctx context.Context, k Key, leaderEpoch int32, initStart func() int64) (*SharePartition, error) {
	if sp := m.cached(k, leaderEpoch); sp != nil {
		if reload, err := sp.revalidate(ctx); err != nil || !reload {
			return sp, err
		}
	}
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	if sp := m.cached(k, leaderEpoch); sp != nil {
		return sp, nil
	}
	st, ok, err := m.cfg.Persister.Read(ctx, k)
	if err != nil {
		return nil, err
	}
	if !ok || st.StartOffset < 0 {
		st = State{StateEpoch: st.StateEpoch, StartOffset: initStart()}
	}
	st.LeaderEpoch = leaderEpoch
	// Writing the new leader epoch at once fences a superseded leader's
	// writes.
	if err := m.cfg.Persister.Write(ctx, k, st); err != nil {
		return nil, err
	}
	sp := &SharePartition{m: m, key: k, leaderEpoch: leaderEpoch, stateEpoch: st.StateEpoch,
		p: NewPartition(st, m.cfg.DeliveryLimit, m.cfg.MaxRecordLocks)}
	m.mu.Lock()
	old := m.parts[k]
	m.parts[k] = sp
	m.mu.Unlock()
	if old != nil {
		old.mu.Lock()
		old.stale = true // requests still holding it acquire nothing
		old.mu.Unlock()
	}
	return sp, nil
}

// cached returns k's share-partition when it is loaded at leaderEpoch
// and not fenced.
func (m *Manager) cached(k Key, leaderEpoch int32) *SharePartition {
	m.mu.Lock()
	sp := m.parts[k]
	m.mu.Unlock()
	if sp == nil {
		return nil
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.stale || sp.leaderEpoch != leaderEpoch {
		return nil
	}
	return sp
}

// revalidate, when a new share session asked for it, reloads the state
// if the persisted one differs (the offsets were altered while nobody held
// records of it); reload is true when the state was deleted
// (DeleteShareGroupOffsets) and must be initialised afresh.
func (sp *SharePartition) revalidate(ctx context.Context) (reload bool, err error) {
	if !sp.recheck.Load() {
		return false, nil
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if !sp.p.NextExpiry().IsZero() {
		return false, nil // records held: the group is not empty, nothing was altered
	}
	st, ok, err := sp.m.cfg.Persister.Read(ctx, sp.key)
	if err != nil {
		return false, err
	}
	sp.recheck.Store(false)
	switch {
	case !ok || st.StartOffset < 0:
		sp.stale = true
		return true, nil
	default:
		// With no record acquired, the state in memory is exactly what
		// was last persisted; any difference was written by someone else.
		start, batches := sp.p.Snapshot()
		if st.StateEpoch != sp.stateEpoch || st.StartOffset != start || !slices.Equal(st.Batches, batches) {
			sp.stateEpoch = st.StateEpoch
			sp.p = NewPartition(st, sp.m.cfg.DeliveryLimit, sp.m.cfg.MaxRecordLocks)
		}
	}
	return false, nil
}

// Drop forgets the share-partitions of a topic partition (leadership
// lost, offsets deleted).
func (m *Manager) Drop(match func(Key) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.parts {
		if match(k) {
			delete(m.parts, k)
		}
	}
}

// Loaded lists the share-partitions loaded here (for tests and metrics).
func (m *Manager) Loaded() []Key {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Key, 0, len(m.parts))
	for k := range m.parts {
		out = append(out, k)
	}
	return out
}

// mutate applies fn to a copy of the state and persists it when fn
// reports a change; on a persist failure the change is undone, so that
// nothing is answered as done before it is durable. Called with sp.mu.
func (sp *SharePartition) mutate(ctx context.Context, fn func(*Partition) bool) error {
	backup := sp.p.clone()
	if !fn(sp.p) {
		return nil
	}
	start, batches := sp.p.Snapshot()
	err := sp.m.cfg.Persister.Write(ctx, sp.key, State{StateEpoch: sp.stateEpoch, LeaderEpoch: sp.leaderEpoch, StartOffset: start, Batches: batches})
	if err != nil {
		sp.p = backup
		if errors.Is(err, ErrFencedStateEpoch) || errors.Is(err, ErrFencedLeaderEpoch) {
			sp.stale = true
		}
		return err
	}
	return nil
}

func (p *Partition) clone() *Partition {
	c := *p
	c.window = slices.Clone(p.window)
	return &c
}

// Acquire acquires records for member; see Partition.Acquire. Acquisition
// is not persisted (as in Kafka): a crash before the acknowledgement
// redelivers.
func (sp *SharePartition) Acquire(member string, batches []Range, maxRecords int) []Range {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.stale {
		return nil
	}
	return sp.p.Acquire(member, batches, maxRecords, sp.m.now(), sp.m.cfg.LockDuration)
}

// FetchOffset is where the next log read for this share-partition starts;
// offsets below logStart (deleted from the log) are skipped first.
func (sp *SharePartition) FetchOffset(ctx context.Context, logStart int64) (int64, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.p.StartOffset() < logStart {
		if err := sp.mutate(ctx, func(p *Partition) bool { p.AdvanceTo(logStart); return true }); err != nil {
			return 0, err
		}
	}
	return sp.p.FetchOffset(), nil
}

// Ack is one acknowledgement batch.
type Ack struct {
	First, Last int64
	Types       []int8
}

// Acknowledge applies member's acknowledgement batches and persists them;
// they are validated together on a copy first, so an invalid batch fails
// the request and nothing is applied.
func (sp *SharePartition) Acknowledge(ctx context.Context, member string, acks []Ack) error {
	released, err := sp.acknowledge(ctx, member, acks)
	if released {
		sp.m.notify() // after sp.mu is released: see the lock order
	}
	return err
}

func (sp *SharePartition) acknowledge(ctx context.Context, member string, acks []Ack) (released bool, err error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.stale {
		return false, fmt.Errorf("%w: share-partition reloading", ErrFencedStateEpoch)
	}
	if len(acks) == 0 {
		return false, nil
	}
	trial := sp.p.clone()
	for _, a := range acks {
		if err := trial.Acknowledge(member, a.First, a.Last, a.Types); err != nil {
			return false, err
		}
		released = released || slices.Contains(a.Types, AckRelease)
	}
	if err := sp.mutate(ctx, func(p *Partition) bool { *p = *trial; return true }); err != nil {
		return false, err
	}
	return released, nil
}

// ReleaseMember releases what member holds here (its session closed).
func (sp *SharePartition) ReleaseMember(ctx context.Context, member string) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.mutate(ctx, func(p *Partition) bool { return p.ReleaseMember(member) })
}

// Summary is the SPSO and the number of offsets in flight.
func (sp *SharePartition) Summary() (start, end int64) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.p.StartOffset(), sp.p.EndOffset()
}

// nextEpoch is the session epoch after e, skipping 0 on wrap-around.
func nextEpoch(e int32) int32 {
	if e == math.MaxInt32 {
		return 1
	}
	return e + 1
}
