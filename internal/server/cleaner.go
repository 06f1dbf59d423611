package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/storage"
)

// The log cleaner's broker settings (log.cleaner.*), shown by
// DescribeConfigs on the broker; the cleaner is storage.Cleaner, run by
// the replica manager over every hosted replica of a compacted topic.
var cleanerBrokerSettings = []brokerSetting{
	{name: "log.cleaner.enable", typ: typeBoolean, doc: "Run the log cleaner (compacted topics are not compacted without it).",
		value: func(c *Config) string { return strconv.FormatBool(!c.Cleaner.Disable) }},
	{name: "log.cleaner.threads", typ: typeInt, doc: "Log cleaner goroutines.",
		value: func(c *Config) string { return strconv.Itoa(c.Cleaner.WithDefaults().Threads) }},
	{name: "log.cleaner.dedupe.buffer.size", typ: typeLong, doc: "Memory of the cleaners' key to offset maps, all threads together (24 bytes per key).",
		value: func(c *Config) string { return strconv.FormatInt(c.Cleaner.WithDefaults().DedupeBufferSize, 10) }},
	{name: "log.cleaner.io.max.bytes.per.second", typ: typeDouble, doc: "Bytes per second the cleaners read and write at most.",
		value: func(c *Config) string { return ioRateString(c.Cleaner.IOMaxBytesPerSecond) }},
	{name: "log.cleaner.backoff.ms", typ: typeLong, doc: "How long a cleaner sleeps when no log is cleanable.",
		value: func(c *Config) string { return msString(c.Cleaner.WithDefaults().Backoff) }},
}

func ioRateString(r float64) string {
	if r <= 0 {
		return "1.7976931348623157E308" // Kafka's default, Double.MAX_VALUE
	}
	return strconv.FormatFloat(r, 'g', -1, 64)
}

// cleanerConfig is the replica manager's cleaner configuration: the
// broker's settings plus the codecs, which storage does not import.
func (s *Server) cleanerConfig() storage.CleanerConfig {
	c := s.cfg.Cleaner
	c.Logger = s.logger.With("component", "log-cleaner")
	c.Decompress = decompressBatch
	c.Compress = compressBatch
	return c
}

// decompressBatch inflates a compressed records section for the cleaner
// (storage.Decompressor), through the same streaming readers the produce
// path's record count check uses, refusing output past limit.
func decompressBatch(codec int, src []byte, limit int) ([]byte, error) {
	r, done, err := recordsReader(src, int16(codec))
	if err != nil {
		return nil, err
	}
	defer done()
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if n > int64(limit) {
		return nil, fmt.Errorf("batch decompresses past %d bytes", limit)
	}
	return out.Bytes(), nil
}

// compactOffsetsTopic makes an existing __consumer_offsets compacted, as
// Kafka's is (clusters created before Strom compacted it have
// cleanup.policy=delete with infinite retention, so it grew with every
// commit). Every broker checks at start; the change is one idempotent
// topic config write.
func (s *Server) compactOffsetsTopic(ctx context.Context, t *raftmeta.Topic) error {
	if t.Configs["cleanup.policy"] == "compact" {
		return nil
	}
	v := "compact"
	if err := s.meta.AlterTopicConfigs(ctx, offsetsTopic, []raftmeta.ConfigOp{{Key: "cleanup.policy", Value: &v}}); err != nil {
		return fmt.Errorf("make %s compacted: %w", offsetsTopic, err)
	}
	return nil
}

// CleanLocal compacts this broker's replica of topic/partition below upTo
// (and its last stable offset) now, whatever its dirty ratio
// (replica.Manager's CleanNow). For tests and tools: replicas cleaned to
// the same bound hold the same records (LocalRecordsChecksum; not the same
// bytes once delete horizons were stamped, each replica's from its clock).
func (s *Server) CleanLocal(topic string, partition int32, upTo int64) error {
	return s.replicas.CleanNow(topic, partition, upTo)
}

// offsetsSegmentBytes is offsets.topic.segment.bytes, zero meaning Kafka's
// default.
func offsetsSegmentBytes(c *Config) int64 {
	if c.OffsetsTopicSegmentBytes > 0 {
		return c.OffsetsTopicSegmentBytes
	}
	return 100 << 20
}
