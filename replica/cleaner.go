package replica

import (
	"fmt"

	"github.com/strombroker/strom/storage"
)

// Compaction runs on every replica's log, leader or follower, as in Kafka:
// each broker's storage.Cleaner compacts its own copies, below each
// replica's last stable offset (at most the high watermark: nothing a
// truncation could take back is rewritten, and no transaction still open
// is cleaned: its outcome decides whether its records stay). Followers
// track transactions from the log they copy, so their bound is the same
// kind. Replicas therefore compact at different times and segment
// boundaries; what they hold after cleaning the same range is the same
// records, and the same bytes except for the delete horizons a pass stamps
// from its own clock (KIP-534, as in Kafka).

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
	var parts []*Partition
	for _, p := range m.parts {
		if p.log.Compacted() {
			parts = append(parts, p)
		}
	}
	m.mu.RUnlock()
	// The last stable offset may take the partition's lock, which a
	// follower's truncation holds for a while: not under Manager.mu.
	out := make([]storage.CleanTarget, 0, len(parts))
	for _, p := range parts {
		out = append(out, storage.CleanTarget{Log: p.log, UpTo: p.LastStableOffset()})
	}
	return out
}

// CleanerStats reports the log cleaner's statistics (its metrics).
func (m *Manager) CleanerStats() storage.CleanerStats { return m.cleaner.Stats() }

// CleanNow compacts the hosted replica topic/index up to upTo (capped at
// its last stable offset) and returns when done, whatever its dirty ratio and
// compaction lags. The active segment is rolled first if it holds offsets
// below that bound, so replicas given the same bound clean the same range.
// For tests and tools.
func (m *Manager) CleanNow(topic string, index int32, upTo int64) error {
	p := m.Get(topic, index)
	if p == nil {
		return fmt.Errorf("%w: %s", ErrNotHosted, DirName(topic, index))
	}
	upTo = min(upTo, p.LastStableOffset())
	if err := p.log.RollFor(upTo); err != nil {
		return err
	}
	return m.cleaner.CleanNow(p.log, upTo)
}

// Compacted reports whether the replica's topic is compacted
// (cleanup.policy includes compact).
func (p *Partition) Compacted() bool { return p.log.Compacted() }
