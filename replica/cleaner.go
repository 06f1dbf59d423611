package replica

import (
	"fmt"

	"github.com/strombroker/strom/storage"
)

// Compaction runs on every replica's log, leader or follower, as in Kafka:
// each broker's storage.Cleaner compacts its own copies, below each
// replica's high watermark (nothing a truncation could take back is
// rewritten). Replicas therefore compact at different times and segment
// boundaries; what they hold after cleaning the same range is the same.

// startCleaner starts the log cleaner over this manager's replicas.
func (m *Manager) startCleaner() *storage.Cleaner {
	cfg := m.cfg.Cleaner
	if cfg.Logger == nil {
		cfg.Logger = m.logger.With("component", "log-cleaner")
	}
	return storage.NewCleaner(cfg, m.cleanTargets)
}

// cleanTargets lists the hosted replicas of compacted topics. Called by
// the cleaner goroutines.
func (m *Manager) cleanTargets() []storage.CleanTarget {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []storage.CleanTarget
	for _, p := range m.parts {
		if p.log.Compacted() {
			out = append(out, storage.CleanTarget{Log: p.log, UpTo: p.hw.Load()})
		}
	}
	return out
}

// CleanNow compacts the hosted replica topic/index up to upTo (capped at
// its high watermark) and returns when done, whatever its dirty ratio and
// compaction lags. The active segment is rolled first if it holds offsets
// below that bound, so replicas given the same bound clean the same range.
// For tests and tools.
func (m *Manager) CleanNow(topic string, index int32, upTo int64) error {
	p := m.Get(topic, index)
	if p == nil {
		return fmt.Errorf("%w: %s", ErrNotHosted, DirName(topic, index))
	}
	upTo = min(upTo, p.hw.Load())
	if err := p.log.RollFor(upTo); err != nil {
		return err
	}
	return m.cleaner.CleanNow(p.log, upTo)
}

// Compacted reports whether the replica's topic is compacted
// (cleanup.policy includes compact).
func (p *Partition) Compacted() bool { return p.log.Compacted() }
