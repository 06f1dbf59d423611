package server

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/replica"
)

// errInvalidConfig marks a topic config key or value Strom refuses.
var errInvalidConfig = errors.New("invalid config")

// configType is the Kafka ConfigType reported by DescribeConfigs v3+.
type configType int8

const (
	typeBoolean configType = 1
	typeString  configType = 2
	typeInt     configType = 3
	typeShort   configType = 4
	typeLong    configType = 5
	typeDouble  configType = 6
	typeList    configType = 7
)

// topicConfig describes one supported topic-level config: its broker-level
// synonym (the default it falls back to), how to validate a value, and how it
// shapes the partition's settings.
type topicConfig struct {
	name       string
	brokerName string // "" if there is no broker-level synonym
	typ        configType
	doc        string
	// def returns the broker default as a string.
	def func(c *Config) string
	// check validates a value.
	check func(v string) error
	// apply sets the value (already checked) on partition settings.
	apply func(s *replica.Settings, v string)
}

func checkLong(minV int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < minV {
			return fmt.Errorf("%d is below the minimum %d", n, minV)
		}
		return nil
	}
}

func checkOneOf(allowed ...string) func(string) error {
	return func(v string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("%q is not supported (supported: %v)", v, allowed)
	}
}

func mustLong(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func msDuration(v string) time.Duration {
	n := mustLong(v)
	if n < 0 {
		return -1
	}
	return time.Duration(n) * time.Millisecond
}

func durMs(d time.Duration) string {
	if d < 0 {
		return "-1"
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

// topicConfigs lists every topic config Strom implements. Anything else is
// refused with INVALID_CONFIG rather than silently ignored.
var topicConfigs = []topicConfig{
	{
		name: "cleanup.policy", brokerName: "log.cleanup.policy", typ: typeList,
		doc:   "delete: retention removes old segments; compact: the log cleaner keeps the latest record per key; both: compact,delete.",
		def:   func(c *Config) string { return cleanupPolicyString(c.Log) },
		check: checkCleanupPolicy,
		apply: func(s *replica.Settings, v string) { s.Log.Compact, s.Log.KeepForever = parseCleanupPolicy(v) },
	},
	{
		name: "min.cleanable.dirty.ratio", brokerName: "log.cleaner.min.cleanable.ratio", typ: typeDouble,
		doc:   "The cleaner compacts a log once its uncleaned bytes are at least this share of the log.",
		def:   func(c *Config) string { return strconv.FormatFloat(c.Log.MinCleanableDirtyRatio, 'g', -1, 64) },
		check: checkRatio,
		apply: func(s *replica.Settings, v string) { s.Log.MinCleanableDirtyRatio, _ = strconv.ParseFloat(v, 64) },
	},
	{
		name: "min.compaction.lag.ms", brokerName: "log.cleaner.min.compaction.lag.ms", typ: typeLong,
		doc:   "A record stays uncompacted at least this long.",
		def:   func(c *Config) string { return durMs(c.Log.MinCompactionLag) },
		check: checkLong(0),
		apply: func(s *replica.Settings, v string) { s.Log.MinCompactionLag = msDuration(v) },
	},
	{
		name: "max.compaction.lag.ms", brokerName: "log.cleaner.max.compaction.lag.ms", typ: typeLong,
		doc:   "A record is compacted within about this long (the active segment rolls for it).",
		def:   func(c *Config) string { return maxLagString(c.Log.MaxCompactionLag) },
		check: checkLong(1),
		apply: func(s *replica.Settings, v string) { s.Log.MaxCompactionLag = maxLagDuration(v) },
	},
	{
		name: "delete.retention.ms", brokerName: "log.cleaner.delete.retention.ms", typ: typeLong,
		doc:   "Tombstones are kept this long after the cleaner first passed them.",
		def:   func(c *Config) string { return durMs(c.Log.DeleteRetention) },
		check: checkLong(0),
		apply: func(s *replica.Settings, v string) { s.Log.DeleteRetention = msDuration(v) },
	},
	{
		name: "retention.ms", brokerName: "log.retention.ms", typ: typeLong,
		doc:   "Delete whole segments whose newest record is older than this; -1 keeps forever.",
		def:   func(c *Config) string { return durMs(c.Log.RetentionMs) },
		check: checkLong(-1),
		apply: func(s *replica.Settings, v string) { s.Log.RetentionMs = msDuration(v) },
	},
	{
		name: "retention.bytes", brokerName: "log.retention.bytes", typ: typeLong,
		doc:   "Delete oldest segments while the partition is larger than this; -1 is unlimited.",
		def:   func(c *Config) string { return strconv.FormatInt(c.Log.RetentionBytes, 10) },
		check: checkLong(-1),
		apply: func(s *replica.Settings, v string) { s.Log.RetentionBytes = mustLong(v) },
	},
	{
		name: "segment.bytes", brokerName: "log.segment.bytes", typ: typeInt,
		doc:   "Roll a new segment file at this size.",
		def:   func(c *Config) string { return strconv.FormatInt(c.Log.SegmentBytes, 10) },
		check: checkLong(1024),
		apply: func(s *replica.Settings, v string) { s.Log.SegmentBytes = mustLong(v) },
	},
	{
		name: "segment.ms", brokerName: "log.roll.ms", typ: typeLong,
		doc:   "Roll a new segment after this long even if it is not full.",
		def:   func(c *Config) string { return durMs(c.Log.SegmentMs) },
		check: checkLong(1),
		apply: func(s *replica.Settings, v string) { s.Log.SegmentMs = msDuration(v) },
	},
	{
		name: "max.message.bytes", brokerName: "message.max.bytes", typ: typeInt,
		doc:   "Largest record batch accepted.",
		def:   func(c *Config) string { return strconv.Itoa(int(c.MessageMaxBytes)) },
		check: checkLong(0),
		apply: func(s *replica.Settings, v string) { s.Log.MaxMessageBytes = int32(min(mustLong(v), 1<<31-1)) },
	},
	{
		name: "index.interval.bytes", brokerName: "log.index.interval.bytes", typ: typeInt,
		doc:   "Bytes between sparse offset index entries.",
		def:   func(c *Config) string { return strconv.Itoa(int(c.Log.IndexIntervalBytes)) },
		check: checkLong(0),
		apply: func(s *replica.Settings, v string) { s.Log.IndexIntervalBytes = int32(min(mustLong(v), 1<<31-1)) },
	},
	{
		// Unset, the broker's log.fsync decides (Strom's default fsyncs
		// acks=all writes); set, Kafka's count rule replaces it.
		name: "flush.messages", brokerName: "log.flush.interval.messages", typ: typeLong,
		doc:   "fsync before acknowledging once this many records are unflushed (1: every write, whatever the acks); unset, log.fsync decides.",
		def:   func(*Config) string { return strconv.FormatInt(math.MaxInt64, 10) },
		check: checkLong(1),
		apply: func(s *replica.Settings, v string) { s.FlushMessages = mustLong(v) },
	},
	{
		name: "flush.ms", brokerName: "log.flush.interval.ms", typ: typeLong,
		doc:   "Background fsync period under log.fsync=interval.",
		def:   func(c *Config) string { return durMs(c.Log.FlushInterval) },
		check: checkLong(1),
		apply: func(s *replica.Settings, v string) { s.Log.FlushInterval = msDuration(v) },
	},
	{
		name: "min.insync.replicas", brokerName: "min.insync.replicas", typ: typeInt,
		doc:   "acks=all writes fail with NOT_ENOUGH_REPLICAS when fewer replicas are in sync.",
		def:   func(c *Config) string { return strconv.Itoa(c.MinInsyncReplicas) },
		check: checkLong(1),
		apply: func(s *replica.Settings, v string) { s.MinInsyncReplicas = int(mustLong(v)) },
	},
	{
		name: "message.timestamp.type", brokerName: "log.message.timestamp.type", typ: typeString,
		doc:   "Only CreateTime is implemented: batches are stored exactly as produced.",
		def:   func(*Config) string { return "CreateTime" },
		check: checkOneOf("CreateTime"),
		apply: func(*replica.Settings, string) {},
	},
	{
		name: "compression.type", brokerName: "compression.type", typ: typeString,
		doc:   "Only producer is implemented: batches keep the producer's compression.",
		def:   func(*Config) string { return "producer" },
		check: checkOneOf("producer"),
		apply: func(*replica.Settings, string) {},
	},
	{
		name: "unclean.leader.election.enable", brokerName: "unclean.leader.election.enable", typ: typeBoolean,
		doc:   "Allow electing an out-of-sync replica (may lose acknowledged records).",
		def:   func(*Config) string { return "false" },
		check: checkOneOf("true", "false"),
		apply: func(*replica.Settings, string) {},
	},
}

var topicConfigByName = func() map[string]*topicConfig {
	m := make(map[string]*topicConfig, len(topicConfigs))
	for i := range topicConfigs {
		m[topicConfigs[i].name] = &topicConfigs[i]
	}
	return m
}()

// validateTopicConfigs checks keys and values, naming the first problem.
func validateTopicConfigs(cfgs map[string]string) error {
	keys := make([]string, 0, len(cfgs))
	for k := range cfgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		def, ok := topicConfigByName[k]
		if !ok {
			return fmt.Errorf("%w: unknown or unsupported topic config %q", errInvalidConfig, k)
		}
		if err := def.check(cfgs[k]); err != nil {
			return fmt.Errorf("%w: %s: %v", errInvalidConfig, k, err)
		}
	}
	return nil
}

// settingsFor computes a partition's settings: broker defaults overridden by
// the topic's configs.
func (s *Server) settingsFor(t *raftmeta.Topic) replica.Settings {
	set := replica.Settings{Log: s.cfg.Log, MinInsyncReplicas: s.cfg.MinInsyncReplicas, VerifyTransactions: true}
	set.Log.MaxMessageBytes = s.cfg.MessageMaxBytes
	for _, p := range t.Partitions { // caps min.insync.replicas for the high watermark
		set.Replicas = max(set.Replicas, len(p.Replicas))
	}
	for k, v := range t.Configs {
		if def, ok := topicConfigByName[k]; ok && def.check(v) == nil {
			def.apply(&set, v)
		}
	}
	return set
}
