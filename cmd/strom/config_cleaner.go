package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/strombroker/strom/internal/server"
)

// cleanerSettings are the log compaction settings: the broker defaults of
// the compaction topic configs and the log cleaner's own (log.cleaner.*).
var cleanerSettings = []setting{
	{"log-cleanup-policy", []string{"log.cleanup.policy"}, "default cleanup.policy of topics: delete, compact or compact,delete", func(c *server.Config, v string) error {
		del, compact := false, false
		for _, p := range strings.Split(v, ",") {
			switch strings.TrimSpace(p) {
			case "delete":
				del = true
			case "compact":
				compact = true
			default:
				return fmt.Errorf("%q is not a cleanup policy", p)
			}
		}
		c.Log.Compact, c.Log.KeepForever = compact, compact && !del
		return nil
	}},
	{"log-cleaner-min-cleanable-ratio", []string{"log.cleaner.min.cleanable.ratio"}, "default min.cleanable.dirty.ratio: clean a log once this share of it is uncleaned", func(c *server.Config, v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return fmt.Errorf("%q is not a ratio between 0 and 1", v)
		}
		c.Log.MinCleanableDirtyRatio = f
		return nil
	}},
	{"log-cleaner-delete-retention-ms", []string{"log.cleaner.delete.retention.ms"}, "default delete.retention.ms: how long tombstones stay after their first clean", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.Log.DeleteRetention })},
	{"log-cleaner-min-compaction-lag-ms", []string{"log.cleaner.min.compaction.lag.ms"}, "default min.compaction.lag.ms", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.Log.MinCompactionLag })},
	{"log-cleaner-max-compaction-lag-ms", []string{"log.cleaner.max.compaction.lag.ms"}, "default max.compaction.lag.ms", durSetter(time.Millisecond, func(c *server.Config) *time.Duration { return &c.Log.MaxCompactionLag })},
	{"log-cleaner-enable", []string{"log.cleaner.enable"}, "run the log cleaner", func(c *server.Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		c.Cleaner.Disable = !b
		return err
	}},
	{"log-cleaner-threads", []string{"log.cleaner.threads"}, "log cleaner goroutines", intSetter(func(c *server.Config, n int) { c.Cleaner.Threads = n })},
	{"log-cleaner-dedupe-buffer-size", []string{"log.cleaner.dedupe.buffer.size"}, "memory of the cleaners' key to offset maps (24 bytes per key)", func(c *server.Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1<<10 {
			return fmt.Errorf("%q: want an integer >= 1024", v)
		}
		c.Cleaner.DedupeBufferSize = n
		return nil
	}},
	{"log-cleaner-io-max-bytes-per-second", []string{"log.cleaner.io.max.bytes.per.second"}, "cleaner I/O rate limit, bytes per second", func(c *server.Config, v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		c.Cleaner.IOMaxBytesPerSecond = f
		return err
	}},
	{"offsets-topic-segment-bytes", []string{"offsets.topic.segment.bytes"}, "segment size of __consumer_offsets when it is created", func(c *server.Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1024 {
			return fmt.Errorf("%q: want an integer >= 1024", v)
		}
		c.OffsetsTopicSegmentBytes = n
		return nil
	}},
	{"log-cleaner-backoff-ms", []string{"log.cleaner.backoff.ms"}, "how long an idle cleaner sleeps", positiveDur(time.Millisecond, func(c *server.Config) *time.Duration { return &c.Cleaner.Backoff })},
}
