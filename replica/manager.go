package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Config configures a Manager.
type Config struct {
	NodeID  int32
	DataDir string // partition directories <topic>-<partition> live here
	// RetentionCheckInterval is how often retention runs (log.retention.check.interval.ms).
	RetentionCheckInterval time.Duration
	Logger                 *slog.Logger
	// Replication configures ISR maintenance and follower fetching (replication.go).
	Replication ReplicationConfig
}

type tp struct {
	topic string
	index int32
}

// Manager owns every partition replica hosted by this broker.
type Manager struct {
	cfg    Config
	logger *slog.Logger

	mu    sync.RWMutex
	parts map[tp]*Partition
	repl  *replication // follower fetchers and the ISR loop

	notifyMu sync.Mutex
	notify   chan struct{} // closed when any partition's high watermark moves

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// NewManager creates the data directory and starts the retention loop.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RetentionCheckInterval <= 0 {
		cfg.RetentionCheckInterval = 5 * time.Minute
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("replica: create data dir: %w", err)
	}
	m := &Manager{
		cfg:    cfg,
		logger: cfg.Logger,
		parts:  make(map[tp]*Partition),
		notify: make(chan struct{}),
		stop:   make(chan struct{}),
	}
	m.repl = startReplication(m)
	m.wg.Add(1)
	go m.maintenanceLoop()
	return m, nil
}

// hwCheckpointInterval is how often high watermarks are checkpointed.
const hwCheckpointInterval = 5 * time.Second

// DirName is the directory of a partition, Kafka style: <topic>-<partition>.
func DirName(topic string, index int32) string {
	return fmt.Sprintf("%s-%d", topic, index)
}

// Open opens (creating if needed) the replica for topic/index, or returns the
// already open one with its settings updated.
func (m *Manager) Open(topic string, index int32, s Settings) (*Partition, error) {
	key := tp{topic, index}
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.parts[key]; ok {
		p.SetSettings(s)
		return p, nil
	}
	dir := filepath.Join(m.cfg.DataDir, DirName(topic, index))
	p, err := openPartition(dir, topic, index, m.cfg.NodeID, s, m.wake, m.logger.With("topic", topic, "partition", index))
	if err != nil {
		return nil, fmt.Errorf("replica: open %s: %w", DirName(topic, index), err)
	}
	p.appended = m.repl.wakeReplicaFetches
	if m.repl != nil {
		p.kickISR = m.repl.kickISR
	}
	m.parts[key] = p
	return p, nil
}

// Get returns the hosted replica or nil.
func (m *Manager) Get(topic string, index int32) *Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.parts[tp{topic, index}]
}

// Partitions returns every hosted replica, sorted by topic and index.
func (m *Manager) Partitions() []*Partition {
	m.mu.RLock()
	out := make([]*Partition, 0, len(m.parts))
	for _, p := range m.parts {
		out = append(out, p)
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Index < out[j].Index
	})
	return out
}

// Remove closes a replica and deletes its data (topic deleted or replica moved).
func (m *Manager) Remove(topic string, index int32) error {
	key := tp{topic, index}
	m.repl.unfollow(key)
	m.mu.Lock()
	p, ok := m.parts[key]
	delete(m.parts, key)
	m.mu.Unlock()
	if ok {
		return p.close(true)
	}
	// Not open (e.g. left over from a deletion interrupted by a crash).
	return os.RemoveAll(filepath.Join(m.cfg.DataDir, DirName(topic, index)))
}

// Changed returns a channel closed the next time any high watermark moves;
// Fetch long-polls wait on it.
func (m *Manager) Changed() <-chan struct{} {
	m.notifyMu.Lock()
	defer m.notifyMu.Unlock()
	return m.notify
}

func (m *Manager) wake() {
	m.notifyMu.Lock()
	close(m.notify)
	m.notify = make(chan struct{})
	m.notifyMu.Unlock()
	m.repl.wakeReplicaFetches()
}

// Close stops the retention loop and closes every replica (flushing them).
// Calls after the first do nothing.
func (m *Manager) Close() error {
	var err error
	m.closeOnce.Do(func() { err = m.close() })
	return err
}

func (m *Manager) close() error {
	close(m.stop)
	m.repl.close()
	m.wg.Wait()
	m.mu.Lock()
	parts := m.parts
	m.parts = make(map[tp]*Partition)
	m.mu.Unlock()
	var errs []error
	for _, p := range parts {
		errs = append(errs, p.close(false))
	}
	m.wake()
	return errors.Join(errs...)
}

func (m *Manager) maintenanceLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.RetentionCheckInterval)
	defer t.Stop()
	// Kafka's replica.high.watermark.checkpoint.interval.ms.
	hwt := time.NewTicker(hwCheckpointInterval)
	defer hwt.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-hwt.C:
			for _, p := range m.Partitions() {
				if err := p.checkpointHW(); err != nil {
					m.logger.Warn("high watermark checkpoint failed", "topic", p.Topic, "partition", p.Index, "err", err)
				}
			}
		case now := <-t.C:
			for _, p := range m.Partitions() {
				if err := p.enforceRetention(now); err != nil {
					m.logger.Error("retention failed", "topic", p.Topic, "partition", p.Index, "err", err)
				}
			}
		}
	}
}
