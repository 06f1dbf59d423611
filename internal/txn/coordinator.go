package txn

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Log is one __transaction_state partition as the coordinator sees it; the
// server implements it on a replica partition, as for __consumer_offsets
// (group.OffsetLog has the same contract: Append is acks=all and returns
// an error wrapping ErrNotCoordinator when leadership was lost).
type Log interface {
	Append(ctx context.Context, batch []byte) (int64, error)
	Read(offset int64, maxBytes int) ([]byte, error)
	LogStartOffset() int64
	LogEndOffset() int64
}

// TP is a topic partition in a transaction.
type TP struct {
	Topic     string
	Partition int32
}

// MarkerWriter writes a transaction's COMMIT or ABORT markers to parts
// through their leaders and returns once all are committed. It may block
// (network, acks=all) and must honour ctx; it is called concurrently for
// different transactional ids. An error leaves the transaction prepared:
// the coordinator tries again later.
type MarkerWriter interface {
	WriteMarkers(ctx context.Context, pid int64, epoch int16, commit bool, coordinatorEpoch int32, parts []TP) error
}

// Config configures a Coordinator.
type Config struct {
	// NumPartitions is __transaction_state's partition count.
	NumPartitions int32
	// MaxTimeout is transaction.max.timeout.ms.
	MaxTimeout time.Duration
	// AbortInterval is transaction.abort.timed.out.transaction.cleanup.interval.ms:
	// how often expired transactions are aborted and prepared ones retried.
	AbortInterval time.Duration
	// IDExpiration is transactional.id.expiration.ms: an id with no
	// transaction open and no request for this long is forgotten (a
	// tombstone in its partition), so that state does not grow forever.
	IDExpiration time.Duration
	// Partition returns the log of partition idx and its leader epoch when
	// this broker leads it (ok false otherwise). Must not block.
	Partition func(idx int32) (log Log, leaderEpoch int32, ok bool)
	// AllocateProducerID hands out a new producer id.
	AllocateProducerID func(ctx context.Context) (int64, error)
	// OffsetsPartition maps a group id to its __consumer_offsets partition.
	OffsetsPartition func(group string) int32
	Markers          MarkerWriter
	Logger           *slog.Logger
}

// Coordinator serves the transactional ids of the __transaction_state
// partitions this broker leads.
type Coordinator struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	parts map[int32]*partition

	now func() time.Time
}

// partition is one loaded __transaction_state partition.
type partition struct {
	loadMu sync.Mutex // serialises loads of this partition
	idx    int32
	log    Log
	epoch  int32 // coordinator epoch: the partition's leader epoch at load

	mu   sync.Mutex
	txns map[string]*txnMeta
}

// txnMeta is one transactional id's state.
type txnMeta struct {
	mu      sync.Mutex // held across a whole operation
	id      string
	pid     int64
	epoch   int16
	timeout int32 // ms
	state   kmsg.TransactionState
	parts   map[TP]struct{}
	start   int64 // ms, when the transaction began
	updated int64 // ms
	// Transaction version 2 (KIP-890 part 2): tv2 when the last EndTxn
	// came from such a client (each EndTxn bumps the epoch); prevPID is
	// the id the producer had before its epoch ran out and nextPID the id
	// it gets when the transaction being completed ends (-1: none).
	tv2     bool
	prevPID int64
	nextPID int64
}

// New starts a coordinator and its background loop (timeouts, loading
// partitions as this broker comes to lead them, finishing prepared
// transactions). Close stops it.
func New(cfg Config) *Coordinator {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = 15 * time.Minute
	}
	if cfg.AbortInterval <= 0 {
		cfg.AbortInterval = 10 * time.Second
	}
	if cfg.IDExpiration <= 0 {
		cfg.IDExpiration = 7 * 24 * time.Hour
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Coordinator{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, parts: make(map[int32]*partition), now: time.Now}
	c.wg.Add(1)
	go c.loop()
	return c
}

// Close stops the background loop and waits for it.
func (c *Coordinator) Close() {
	c.cancel()
	c.wg.Wait()
}

// PartitionFor is the __transaction_state partition of a transactional id
// (Kafka's abs(String.hashCode) % N).
func (c *Coordinator) PartitionFor(id string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(id)) {
		h = 31*h + int32(u)
	}
	if h == math.MinInt32 {
		h = 0
	}
	if h < 0 {
		h = -h
	}
	return h % max(c.cfg.NumPartitions, 1)
}

func (c *Coordinator) loop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.AbortInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.Tick(c.ctx)
		}
	}
}

// Tick loads partitions newly led here, aborts expired transactions and
// retries the markers of prepared ones. The background loop calls it every
// AbortInterval; tests may call it directly.
func (c *Coordinator) Tick(ctx context.Context) {
	for i := int32(0); i < c.cfg.NumPartitions; i++ {
		p, err := c.partition(ctx, i)
		if err != nil || p == nil {
			continue
		}
		for _, m := range p.snapshot() {
			c.expireOrFinish(ctx, p, m)
		}
	}
}

func (p *partition) snapshot() []*txnMeta {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*txnMeta, 0, len(p.txns))
	for _, m := range p.txns {
		out = append(out, m)
	}
	return out
}

// expireOrFinish aborts m if its transaction outlived its timeout (with an
// epoch bump, fencing the producer as Kafka does) and completes it if it
// is prepared.
func (c *Coordinator) expireOrFinish(ctx context.Context, p *partition, m *txnMeta) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := c.now().UnixMilli()
	switch m.state {
	case kmsg.TransactionStateOngoing:
		if now < m.start+int64(m.timeout) {
			return
		}
		c.log.Info("aborting a timed out transaction", "transactionalID", m.id, "producerID", m.pid, "epoch", m.epoch)
		if err := c.endLocked(ctx, p, m, false, true, m.tv2); err != nil {
			c.log.Warn("cannot abort a timed out transaction", "transactionalID", m.id, "err", err)
		}
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		if err := c.finishLocked(ctx, p, m); err != nil {
			c.log.Warn("cannot complete a prepared transaction", "transactionalID", m.id, "err", err)
		}
	default: // Empty, CompleteCommit, CompleteAbort
		if now-m.updated >= c.cfg.IDExpiration.Milliseconds() {
			c.expireLocked(ctx, p, m)
		}
	}
}

// expireLocked forgets an idle transactional id: a tombstone in its
// partition, then out of the map. A later InitProducerId starts afresh with
// a new producer id. Caller holds m.mu.
func (c *Coordinator) expireLocked(ctx context.Context, p *partition, m *txnMeta) {
	if _, err := p.log.Append(ctx, encodeTombstone(m.id, c.now().UnixMilli())); err != nil {
		c.log.Warn("cannot expire a transactional id", "transactionalID", m.id, "err", err)
		return
	}
	p.mu.Lock()
	if p.txns[m.id] == m {
		delete(p.txns, m.id)
	}
	p.mu.Unlock()
	m.pid, m.epoch, m.state = -1, -1, kmsg.TransactionStateDead
	c.log.Info("expired transactional id", "transactionalID", m.id)
}

// partition returns partition idx loaded at its current leader epoch,
// loading it (replaying the log) if this broker leads it and has not yet,
// and dropping it when this broker no longer leads it (nil, nil then).
func (c *Coordinator) partition(ctx context.Context, idx int32) (*partition, error) {
	log, epoch, ok := c.cfg.Partition(idx)
	c.mu.Lock()
	p := c.parts[idx]
	if !ok {
		delete(c.parts, idx)
		c.mu.Unlock()
		return nil, nil
	}
	if p != nil && p.epoch == epoch {
		c.mu.Unlock()
		return p, nil
	}
	if p == nil || p.epoch != epoch {
		p = &partition{idx: idx, log: log, epoch: epoch}
		p.loadMu.Lock()
		c.parts[idx] = p
		c.mu.Unlock()
		defer p.loadMu.Unlock()
		txns, err := replay(ctx, log)
		if err != nil {
			c.mu.Lock()
			if c.parts[idx] == p {
				delete(c.parts, idx)
			}
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: load __transaction_state partition %d: %w", ErrCoordinatorNotAvailable, idx, err)
		}
		p.mu.Lock()
		p.txns = txns
		p.mu.Unlock()
		c.log.Info("loaded transaction state", "partition", idx, "coordinatorEpoch", epoch, "transactionalIDs", len(txns))
		return p, nil
	}
	return p, nil
}

// lookup finds (creating when create is set) the state of id, loading its
// partition first if needed. A partition still loading is waited for.
func (c *Coordinator) lookup(ctx context.Context, id string, create bool) (*partition, *txnMeta, error) {
	idx := c.PartitionFor(id)
	p, err := c.partition(ctx, idx)
	if err != nil {
		return nil, nil, err
	}
	if p == nil {
		return nil, nil, fmt.Errorf("%w: partition %d of __transaction_state is not led here", ErrNotCoordinator, idx)
	}
	p.loadMu.Lock() // wait out a load in progress
	p.loadMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.txns == nil {
		return nil, nil, fmt.Errorf("%w: partition %d failed to load", ErrCoordinatorNotAvailable, idx)
	}
	m := p.txns[id]
	if m == nil && create {
		m = &txnMeta{id: id, pid: -1, epoch: -1, state: kmsg.TransactionStateEmpty, parts: map[TP]struct{}{}, prevPID: -1, nextPID: -1}
		p.txns[id] = m
	}
	return p, m, nil
}

// sortedParts lists m's partitions in a stable order.
func (m *txnMeta) sortedParts() []TP {
	out := make([]TP, 0, len(m.parts))
	for tp := range m.parts {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}
