package group

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
	"unicode/utf16"
)

// Coordinator is the classic-protocol group coordinator for the
// __consumer_offsets partitions loaded into it.
//
// All methods are safe for concurrent use. Each group has its own mutexes;
// the coordinator's own mutex only guards the partition and group maps and
// is never held while waiting for anything.
type Coordinator struct {
	cfg Config
	log *slog.Logger

	// ctx is cancelled by Close; writes that no request waits for (group
	// metadata flushes, the expiry sweep) use it.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.RWMutex
	closed bool
	parts  map[int32]*partition // loaded or loading partitions
	sweep  *time.Timer

	// bg counts timer callbacks and background writes in flight, so Close
	// can wait for them; Add happens only under mu.RLock with closed false.
	bg sync.WaitGroup

	now func() time.Time // time source; tests may replace it before use
}

// partition is one __consumer_offsets partition owned by this coordinator.
type partition struct {
	id      int32
	log     OffsetLog
	loading bool
	groups  map[string]*group // guarded by Coordinator.mu
	// txnOffsets holds offsets committed in transactions not yet decided,
	// by producer id then group (txn_offset.go); guarded by Coordinator.mu.
	txnOffsets map[int64]map[string]map[tp]offsetEntry
	// lateMarkers: transaction outcomes (commit true) that arrived while
	// the partition was loading, applied when the load ends.
	lateMarkers map[int64]bool
}

// New returns a coordinator owning no partitions. Zero or invalid Config
// fields are replaced by Kafka's defaults (see Config.Validate).
func New(cfg Config) *Coordinator {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Coordinator{
		cfg:    cfg,
		log:    cfg.Logger,
		ctx:    ctx,
		cancel: cancel,
		parts:  make(map[int32]*partition),
		now:    time.Now,
	}
	c.mu.Lock()
	c.sweep = time.AfterFunc(cfg.OffsetsRetentionCheckInterval, c.runSweep)
	c.mu.Unlock()
	return c
}

// PartitionFor is the __consumer_offsets partition for a group id
// (abs(javaStringHashCode(group)) % NumPartitions).
func (c *Coordinator) PartitionFor(groupID string) int32 {
	return partitionFor(groupID, c.cfg.NumPartitions)
}

// partitionFor mirrors Kafka: Java's String.hashCode over UTF-16 code units,
// then Utils.abs (which maps MinInt32 to 0) modulo the partition count.
func partitionFor(groupID string, n int32) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(groupID)) {
		h = 31*h + int32(u)
	}
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}

// Close stops timers, wakes blocked joins and syncs with ErrNotCoordinator and
// waits for background work. The coordinator answers ErrCoordinatorNotAvailable
// afterwards.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.sweep.Stop()
	parts := c.parts
	c.parts = make(map[int32]*partition)
	c.mu.Unlock()
	c.cancel()
	for _, p := range parts {
		c.shutdownPartition(p)
	}
	c.bg.Wait()
}

// goBackground runs fn in a goroutine Close waits for; it reports false and
// does nothing once the coordinator is closed.
func (c *Coordinator) goBackground(fn func()) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return false
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		fn()
	}()
	return true
}

// afterFunc is time.AfterFunc whose callback is skipped after Close and
// counted in bg while it runs, so Close never returns under a running timer.
func (c *Coordinator) afterFunc(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() {
		c.mu.RLock()
		if c.closed {
			c.mu.RUnlock()
			return
		}
		c.bg.Add(1)
		c.mu.RUnlock()
		defer c.bg.Done()
		fn()
	})
}

// lookup resolves a group id to its partition and, if present, its group.
// A nil error means the partition is served here and loaded.
func (c *Coordinator) lookup(groupID string) (*partition, *group, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, err := c.servingLocked(groupID)
	if err != nil {
		return p, nil, err
	}
	return p, p.groups[groupID], nil
}

// servingLocked returns groupID's partition if it is loaded here; while it
// loads, the partition and ErrLoadInProgress. Caller holds c.mu.
func (c *Coordinator) servingLocked(groupID string) (*partition, error) {
	if c.closed {
		return nil, fmt.Errorf("%w: coordinator closed", ErrCoordinatorNotAvailable)
	}
	idx := c.PartitionFor(groupID)
	p := c.parts[idx]
	switch {
	case p == nil:
		return nil, fmt.Errorf("%w: offsets partition %d not served here", ErrNotCoordinator, idx)
	case p.loading:
		return p, fmt.Errorf("%w: offsets partition %d", ErrLoadInProgress, idx)
	}
	return p, nil
}

// getOrCreate returns the group, creating it Empty if absent.
func (c *Coordinator) getOrCreate(groupID string) (*group, error) {
	if _, g, err := c.lookup(groupID); err != nil || g != nil {
		return g, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.servingLocked(groupID)
	if err != nil {
		return nil, err
	}
	if g := p.groups[groupID]; g != nil {
		return g, nil
	}
	g := newGroup(c, p, groupID)
	p.groups[groupID] = g
	return g, nil
}

// removeGroup drops g from its partition's map if it is still the group
// registered under its id. Callers hold g.mu (c.mu is innermost).
func (c *Coordinator) removeGroup(g *group) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := g.part.groups[g.id]; cur == g {
		delete(g.part.groups, g.id)
	}
}

// allGroups snapshots the groups of loaded partitions, sorted by id, and
// reports whether any partition is still loading.
func (c *Coordinator) allGroups() (gs []*group, loading bool) {
	c.mu.RLock()
	for _, p := range c.parts {
		if p.loading {
			loading = true
			continue
		}
		for _, g := range p.groups {
			gs = append(gs, g)
		}
	}
	c.mu.RUnlock()
	sort.Slice(gs, func(i, j int) bool { return gs[i].id < gs[j].id })
	return gs, loading
}

// clientInfoKey carries the requesting client's id and host in a context.
type clientInfoKey struct{}

type clientInfo struct{ id, host string }

// WithClient returns a context carrying the request header's client id and
// the client's host (Kafka shows it as "/1.2.3.4"). The server wraps the ctx
// of JoinGroup requests with it: member ids are derived from the client id and
// DescribeGroups reports both. Without it both read as "".
func WithClient(ctx context.Context, clientID, clientHost string) context.Context {
	return context.WithValue(ctx, clientInfoKey{}, clientInfo{clientID, clientHost})
}

func clientFrom(ctx context.Context) clientInfo {
	ci, _ := ctx.Value(clientInfoKey{}).(clientInfo)
	return ci
}

// newMemberID is Kafka's "<prefix>-<uuid4>".
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return prefix + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func nowMillis(t time.Time) int64 { return t.UnixMilli() }
