package storage

import (
	"fmt"
	"math"
	"time"
)

// FsyncPolicy says when appended data is forced to disk.
type FsyncPolicy string

const (
	// FsyncAlways: Sync() is called before every ack; concurrent callers share one fsync (group commit).
	FsyncAlways FsyncPolicy = "always"
	// FsyncInterval: a dirty log is fsynced Config.FlushInterval after its first unsynced append.
	FsyncInterval FsyncPolicy = "interval"
	// FsyncNever: leave it to the OS page cache (Kafka's default; safe against process crashes only).
	FsyncNever FsyncPolicy = "never"
)

// Config is the per-partition log configuration (broker defaults overridden by topic configs).
//
// Zero values of the size and duration fields (and an empty Fsync) mean "use
// the default", so a partially filled Config is usable; Open and SetConfig
// apply that normalisation.
type Config struct {
	SegmentBytes       int64         // log.segment.bytes / segment.bytes (capped at 2 GiB-1: index positions are u32)
	SegmentMs          time.Duration // log.roll.ms / segment.ms
	IndexIntervalBytes int32         // index.interval.bytes
	RetentionMs        time.Duration // retention.ms; < 0 means keep forever
	RetentionBytes     int64         // retention.bytes; < 0 means unlimited
	MaxMessageBytes    int32         // max.message.bytes: largest batch accepted
	Fsync              FsyncPolicy
	FlushInterval      time.Duration // used by FsyncInterval

	// Compaction (cleaner.go). Compact is cleanup.policy containing
	// "compact"; KeepForever is cleanup.policy without "delete" (retention
	// then deletes nothing).
	Compact                bool
	KeepForever            bool
	MinCleanableDirtyRatio float64       // min.cleanable.dirty.ratio; 0 cleans any dirt
	MinCompactionLag       time.Duration // min.compaction.lag.ms
	MaxCompactionLag       time.Duration // max.compaction.lag.ms; 0 means none
	DeleteRetention        time.Duration // delete.retention.ms: tombstones kept after their first clean
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * time.Hour,
		IndexIntervalBytes: 4096,
		RetentionMs:        7 * 24 * time.Hour,
		RetentionBytes:     -1,
		MaxMessageBytes:    1048588,
		Fsync:              FsyncInterval,
		FlushInterval:      time.Second,

		MinCleanableDirtyRatio: 0.5,
		DeleteRetention:        24 * time.Hour,
	}
}

// Validate reports a configuration that cannot be normalised (an unknown
// fsync policy). Zero values are not errors; see Config.
func (c Config) Validate() error {
	switch c.Fsync {
	case "", FsyncAlways, FsyncInterval, FsyncNever:
		return nil
	default:
		return fmt.Errorf("%w: unknown fsync policy %q", ErrInvalidConfig, c.Fsync)
	}
}

// normalized fills zero values with defaults and clamps SegmentBytes so that
// positions fit the u32 of the offset index.
func (c Config) normalized() Config {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentBytes > math.MaxInt32 {
		c.SegmentBytes = math.MaxInt32
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.Fsync == "" {
		c.Fsync = d.Fsync
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = d.FlushInterval
	}
	// max.compaction.lag.ms bounds how long a record may stay in the
	// active segment, which is never cleaned (Kafka rolls for it too).
	if c.Compact && c.MaxCompactionLag > 0 && c.MaxCompactionLag < c.SegmentMs {
		c.SegmentMs = c.MaxCompactionLag
	}
	return c
}
