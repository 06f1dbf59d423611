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

	"github.com/strombroker/strom/storage"
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
	// MaxOpenFiles bounds the descriptors the segment and index files of
	// all hosted replicas hold open (storage.FileCache): idle ones are
	// closed and reopened on use. 0: three quarters of the process's
	// RLIMIT_NOFILE (see defaultMaxOpenFiles), the rest being left to
	// connections and metadata.
	MaxOpenFiles int
	// Cleaner configures the log cleaner compacting the replicas of
	// compacted topics, on leaders and followers alike (cleaner.go).
	Cleaner storage.CleanerConfig
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
	ids   map[tp][16]byte // guarded by mu: topic id each open replica was opened with (zero: unknown)
	// opening: replicas being opened (without mu), closed or removed;
	// the channel is closed when that is done. Guarded by mu.
	opening map[tp]chan struct{}
	repl    *replication // follower fetchers and the ISR loop
	files   *storage.FileCache
	cleaner *storage.Cleaner

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
	if err := removeLeftovers(cfg.DataDir); err != nil {
		return nil, err
	}
	if cfg.MaxOpenFiles <= 0 {
		cfg.MaxOpenFiles = defaultMaxOpenFiles()
	}
	m := &Manager{
		cfg:     cfg,
		files:   storage.NewFileCache(cfg.MaxOpenFiles),
		logger:  cfg.Logger,
		parts:   make(map[tp]*Partition),
		opening: make(map[tp]chan struct{}),
		ids:     make(map[tp][16]byte),
		notify:  make(chan struct{}),
		stop:    make(chan struct{}),
	}
	m.repl = startReplication(m)
	m.cleaner = m.startCleaner()
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

// Open opens the replica for topic/index without a topic id: OpenTopicID
// with the zero id, which checks and records nothing. Only for callers
// that do not know the id; the reconciler always passes it.
func (m *Manager) Open(topic string, index int32, s Settings) (*Partition, error) {
	return m.OpenTopicID(topic, index, [16]byte{}, s)
}

// OpenTopicID opens (creating if needed) the replica for topic/index of the
// topic whose id is topicID, or returns the already open one with its
// settings updated. A replica is never served from another incarnation of
// the topic (see partmeta.go): an open replica opened with another id is
// removed, as the deletion of its topic would have removed it, and a
// directory whose partition.metadata names another id is moved aside as
// stray; a fresh empty log replaces either. A directory without the file
// adopts topicID. The zero topicID means unknown: nothing is checked or
// written.
func (m *Manager) OpenTopicID(topic string, index int32, topicID [16]byte, s Settings) (*Partition, error) {
	if err := checkTopicName(topic); err != nil {
		return nil, err
	}
	key := tp{topic, index}
	for {
		if p, err := m.reopen(key, topicID, s); p != nil || err != nil {
			return p, err
		}
		m.mu.Lock()
		if p, ok := m.parts[key]; ok && (topicID == ([16]byte{}) || m.ids[key] == topicID) {
			m.mu.Unlock()
			p.SetSettings(s) // opened concurrently by another caller
			return p, nil
		} else if ok {
			m.mu.Unlock()
			return nil, fmt.Errorf("replica: open %s: opened concurrently with another topic id", DirName(topic, index))
		}
		if wait, ok := m.opening[key]; ok {
			m.mu.Unlock()
			<-wait // another caller is opening it: take its result
			continue
		}
		select {
		case <-m.stop:
			m.mu.Unlock()
			return nil, ErrClosed
		default:
		}
		done := make(chan struct{})
		m.opening[key] = done
		m.mu.Unlock()

		// Opened without m.mu, so that many partitions open (and recover)
		// concurrently; opening[key] keeps other opens and Remove of this
		// one partition out meanwhile.
		p, err := m.openNew(key, topicID, s)
		m.mu.Lock()
		delete(m.opening, key)
		close(done)
		closed := false
		select {
		case <-m.stop:
			closed = true
		default:
		}
		if err == nil && !closed {
			m.parts[key] = p
			m.ids[key] = topicID
		}
		m.mu.Unlock()
		if err == nil && closed {
			return nil, errors.Join(ErrClosed, p.close(false))
		}
		return p, err
	}
}

// openNew opens the replica of key, which is neither open nor being opened
// (the caller marked it in m.opening), checking and recording topicID.
func (m *Manager) openNew(key tp, topicID [16]byte, s Settings) (*Partition, error) {
	topic, index := key.topic, key.index
	name := DirName(topic, index)
	write := false
	if topicID != ([16]byte{}) {
		var err error
		if write, err = m.checkDirTopicID(name, topicID); err != nil {
			return nil, fmt.Errorf("replica: open %s: %w", name, err)
		}
	}
	dir := filepath.Join(m.cfg.DataDir, name)
	p, err := openPartition(dir, topic, index, m.cfg.NodeID, s, m.files, m.wake, m.logger.With("topic", topic, "partition", index))
	if err != nil {
		return nil, fmt.Errorf("replica: open %s: %w", name, err)
	}
	if write {
		if err := writePartitionMetadata(dir, topicID); err != nil {
			return nil, errors.Join(err, p.close(false))
		}
	}
	p.appended = m.repl.wakeReplicaFetches
	if m.repl != nil {
		p.kickISR = m.repl.kickISR
	}
	return p, nil
}

// reopen handles OpenTopicID of a replica that is already open: it returns
// it when topicID is unknown or the one it was opened with; adopts topicID
// when the replica was opened without one and its directory records none
// or the same; otherwise closes it (removing its data when it was opened
// with another id: that incarnation of the topic was deleted) and returns
// nil so that the caller opens afresh.
func (m *Manager) reopen(key tp, topicID [16]byte, s Settings) (*Partition, error) {
	m.mu.Lock()
	p, ok := m.parts[key]
	cur := m.ids[key]
	if !ok || topicID == ([16]byte{}) || cur == topicID {
		m.mu.Unlock()
		if ok {
			p.SetSettings(s)
		}
		return p, nil
	}
	if cur == ([16]byte{}) {
		if got, found, err := readPartitionMetadata(p.log.Dir()); err == nil && (!found || got == topicID) {
			if !found {
				err = writePartitionMetadata(p.log.Dir(), topicID)
			}
			if err == nil {
				m.ids[key] = topicID
				p.SetSettings(s)
			}
			m.mu.Unlock()
			return p, err
		}
	}
	m.mu.Unlock()
	if cur != ([16]byte{}) {
		m.logger.Warn("topic recreated: removing the replica of its previous incarnation", "topic", key.topic, "partition", key.index)
		return nil, m.Remove(key.topic, key.index)
	}
	return nil, m.closeReplica(key)
}

// Hosted reports whether topic/index is open here.
func (m *Manager) Hosted(topic string, index int32) bool { return m.Get(topic, index) != nil }

// Get returns the hosted replica or nil.
func (m *Manager) Get(topic string, index int32) *Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.parts[tp{topic, index}]
}

// getWithID returns the hosted replica and the topic id it was opened with,
// or nil.
func (m *Manager) getWithID(topic string, index int32) (*Partition, [16]byte) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	key := tp{topic, index}
	return m.parts[key], m.ids[key]
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

// Remove closes a replica and deletes its data (topic deleted or replica
// moved). The directory is first renamed to a *-delete name, so that a crash
// midway never leaves a partial log (perhaps without its partition.metadata)
// under the partition's name; NewManager finishes such deletions.
func (m *Manager) Remove(topic string, index int32) error {
	if err := checkTopicName(topic); err != nil {
		return err
	}
	key := tp{topic, index}
	m.repl.unfollow(key)
	// Claimed, so that no open of the partition runs between closing the
	// replica and moving its directory away (it would open a log in a
	// directory about to vanish); an open waits and then starts afresh.
	release := m.claim(key)
	defer release()
	err := m.closeClaimed(key)
	name := DirName(topic, index)
	if _, serr := os.Stat(filepath.Join(m.cfg.DataDir, name)); errors.Is(serr, os.ErrNotExist) {
		return err
	}
	to, merr := moveAside(m.cfg.DataDir, name, deleteSuffix)
	if merr != nil {
		return errors.Join(err, merr)
	}
	return errors.Join(err, os.RemoveAll(to))
}

// closeReplica stops following and closes the replica of key, if open,
// keeping its data.
func (m *Manager) closeReplica(key tp) error {
	m.repl.unfollow(key)
	release := m.claim(key) // let a concurrent open finish, then close what it opened
	defer release()
	return m.closeClaimed(key)
}

// claim waits until no open or removal of key is in progress and marks one
// in progress (m.opening) until release is called.
func (m *Manager) claim(key tp) (release func()) {
	m.mu.Lock()
	for {
		wait, busy := m.opening[key]
		if !busy {
			break
		}
		m.mu.Unlock()
		<-wait
		m.mu.Lock()
	}
	done := make(chan struct{})
	m.opening[key] = done
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.opening, key)
		close(done)
		m.mu.Unlock()
	}
}

// closeClaimed closes the replica of key, if open; the caller claimed key.
func (m *Manager) closeClaimed(key tp) error {
	m.mu.Lock()
	p, ok := m.parts[key]
	delete(m.parts, key)
	delete(m.ids, key)
	m.mu.Unlock()
	if !ok {
		return nil
	}
	return p.close(false)
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
	m.cleaner.Close()
	m.repl.close()
	m.wg.Wait()
	m.mu.Lock()
	parts := m.parts
	m.parts = make(map[tp]*Partition)
	m.ids = make(map[tp][16]byte)
	m.mu.Unlock()
	err := closeAll(parts)
	m.wake()
	return err
}

// closeAll closes replicas concurrently, closeWorkers at a time: each Close
// fsyncs its log, its directory and checkpoints, and with thousands of
// partitions a sequential shutdown waits for each fsync in turn.
func closeAll(parts map[tp]*Partition) error {
	const closeWorkers = 16
	ch := make(chan *Partition)
	errc := make(chan error, len(parts))
	var wg sync.WaitGroup
	for range min(closeWorkers, len(parts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range ch {
				errc <- p.close(false)
			}
		}()
	}
	for _, p := range parts {
		ch <- p
	}
	close(ch)
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
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
