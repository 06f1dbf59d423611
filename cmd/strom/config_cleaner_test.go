package main

import (
	"bytes"
	"testing"
	"time"
)

// TestCleanerSettings: the compaction settings reach the server config
// from flags (and so from env and properties, which share the table).
func TestCleanerSettings(t *testing.T) {
	var stderr bytes.Buffer
	cfg, _, err := loadConfig([]string{
		"--log-cleanup-policy", "compact,delete", "--log-cleaner-threads", "2",
		"--log-cleaner-dedupe-buffer-size", "1048576", "--log-cleaner-io-max-bytes-per-second", "5e6",
		"--log-cleaner-backoff-ms", "250", "--log-cleaner-enable", "false",
		"--log-cleaner-min-cleanable-ratio", "0.2", "--log-cleaner-delete-retention-ms", "1000",
		"--log-cleaner-min-compaction-lag-ms", "10", "--log-cleaner-max-compaction-lag-ms", "60000",
		"--offsets-topic-segment-bytes", "65536",
	}, env{}.get, &stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	l, c := cfg.Log, cfg.Cleaner
	if !l.Compact || l.KeepForever || l.MinCleanableDirtyRatio != 0.2 || l.DeleteRetention != time.Second ||
		l.MinCompactionLag != 10*time.Millisecond || l.MaxCompactionLag != time.Minute {
		t.Errorf("log defaults %+v", l)
	}
	if !c.Disable || c.Threads != 2 || c.DedupeBufferSize != 1<<20 || c.IOMaxBytesPerSecond != 5e6 || c.Backoff != 250*time.Millisecond {
		t.Errorf("cleaner %+v", c)
	}
	if cfg.OffsetsTopicSegmentBytes != 65536 {
		t.Errorf("offsets.topic.segment.bytes %d", cfg.OffsetsTopicSegmentBytes)
	}
	cfg, _, err = loadConfig([]string{"--log-cleanup-policy", "compact"}, env{}.get, &stderr)
	if err != nil || !cfg.Log.Compact || !cfg.Log.KeepForever {
		t.Errorf("compact alone: %v %+v", err, cfg.Log)
	}
	if _, _, err := loadConfig([]string{"--log-cleanup-policy", "shred"}, env{}.get, &stderr); err == nil {
		t.Error("log.cleanup.policy=shred accepted")
	}
}
