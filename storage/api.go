package storage

// API CONTRACT (written by the lead so other packages can compile against it).
// The storage owner replaces the bodies; the exported names and signatures below
// are relied on by replica/ and internal/server/. Additions are fine; changes
// must be coordinated.

import (
	"errors"
	"log/slog"
	"time"
)

// Sentinel errors. Handlers map them to Kafka codes with errors.Is.
var (
	// ErrCorruptBatch: bad CRC, bad lengths, record count mismatch, wrong magic (CORRUPT_MESSAGE).
	ErrCorruptBatch = errors.New("storage: corrupt record batch")
	// ErrMessageTooLarge: a batch larger than Config.MaxMessageBytes (MESSAGE_TOO_LARGE).
	ErrMessageTooLarge = errors.New("storage: record batch too large")
	// ErrOffsetOutOfRange: read below log start or above log end (OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("storage: offset out of range")
	// ErrStorage wraps I/O failures such as ENOSPC (KAFKA_STORAGE_ERROR).
	ErrStorage = errors.New("storage: i/o error")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("storage: log closed")
	// ErrNonSequentialOffset: AppendAsFollower got batches not starting at the log end.
	ErrNonSequentialOffset = errors.New("storage: non-sequential offset")
)

// FsyncPolicy says when appended data is forced to disk.
type FsyncPolicy string

const (
	// FsyncAlways: Sync() is called before every ack; concurrent callers share one fsync (group commit).
	FsyncAlways FsyncPolicy = "always"
	// FsyncInterval: a background flusher fsyncs dirty logs every Config.FlushInterval.
	FsyncInterval FsyncPolicy = "interval"
	// FsyncNever: leave it to the OS page cache (Kafka's default; safe against process crashes only).
	FsyncNever FsyncPolicy = "never"
)

// Config is the per-partition log configuration (broker defaults overridden by topic configs).
type Config struct {
	SegmentBytes       int64         // log.segment.bytes / segment.bytes
	SegmentMs          time.Duration // log.roll.ms / segment.ms
	IndexIntervalBytes int32         // index.interval.bytes
	RetentionMs        time.Duration // retention.ms; < 0 means keep forever
	RetentionBytes     int64         // retention.bytes; < 0 means unlimited
	MaxMessageBytes    int32         // max.message.bytes: largest batch accepted
	Fsync              FsyncPolicy
	FlushInterval      time.Duration // used by FsyncInterval
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
	}
}

// BatchHeader is the fixed 61-byte header of a v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32 // bytes after the length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the total size of the batch on the wire / on disk.
func (h BatchHeader) Size() int { return int(h.BatchLength) + 12 }

// LastOffset is the offset of the last record in the batch.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// IsTransactional reports the transactional attribute bit.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&0x10 != 0 }

// IsControl reports the control-batch attribute bit.
func (h BatchHeader) IsControl() bool { return h.Attributes&0x20 != 0 }

// ParseBatches validates one or more concatenated v2 batches (magic 2, lengths,
// CRC-32C, record count sanity, size <= maxBatchBytes) and returns their
// headers. It never panics on arbitrary input.
func ParseBatches(b []byte, maxBatchBytes int32) ([]BatchHeader, error) { panic("todo") }

// AppendResult describes a successful append.
type AppendResult struct {
	BaseOffset     int64 // offset assigned to the first record
	LastOffset     int64 // offset of the last record
	LogStartOffset int64
}

// Log is one partition's segmented log. All methods are safe for concurrent use.
type Log struct{}

// Open opens (creating if needed) the log in dir, recovering the active
// segment's tail and rebuilding missing/corrupt indexes.
func Open(dir string, cfg Config, logger *slog.Logger) (*Log, error) { panic("todo") }

// Append validates batches, assigns offsets from the log end (rewriting each
// batch's base offset and partition leader epoch in place in b), and appends.
// Nothing is appended if any batch is invalid.
func (l *Log) Append(b []byte, leaderEpoch int32) (AppendResult, error) { panic("todo") }

// AppendAsFollower appends batches whose offsets were assigned by the leader;
// the first batch must start at LogEndOffset.
func (l *Log) AppendAsFollower(b []byte) (AppendResult, error) { panic("todo") }

// Read returns whole batches starting with the one containing offset, up to
// maxBytes (but always at least one whole batch, KIP-74) and never including a
// batch whose base offset is >= upTo. Returns empty when offset == upTo.
func (l *Log) Read(offset int64, maxBytes int, upTo int64) ([]byte, error) { panic("todo") }

// LogStartOffset is the first readable offset.
func (l *Log) LogStartOffset() int64 { panic("todo") }

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 { panic("todo") }

// Size is the total bytes in all segments.
func (l *Log) Size() int64 { panic("todo") }

// OffsetForTimestamp returns the first offset whose batch max timestamp is >= ts
// and that batch's timestamp; found is false if none.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool, err error) {
	panic("todo")
}

// MaxTimestamp returns the offset and value of the largest timestamp (ListOffsets -3).
func (l *Log) MaxTimestamp() (offset int64, timestamp int64, err error) { panic("todo") }

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the largest epoch <= epoch
// known to the log and the end offset of that epoch. (-1,-1) if unknown.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) { panic("todo") }

// DeleteRecordsBefore moves the log start offset to offset (DeleteRecords) and
// removes segments entirely below it.
func (l *Log) DeleteRecordsBefore(offset int64) error { panic("todo") }

// TruncateTo removes everything at and above offset (follower divergence).
func (l *Log) TruncateTo(offset int64) error { panic("todo") }

// EnforceRetention deletes whole segments past retention time/bytes, never the active one.
func (l *Log) EnforceRetention(now time.Time) error { panic("todo") }

// SetConfig applies a new configuration (topic config change).
func (l *Log) SetConfig(cfg Config) { panic("todo") }

// Sync forces appended data to disk; concurrent callers are coalesced into one fsync.
func (l *Log) Sync() error { panic("todo") }

// ScanBatches calls fn for each batch header from offset on (used to rebuild
// producer state). The raw bytes passed are only valid during the call.
func (l *Log) ScanBatches(from int64, fn func(h BatchHeader, raw []byte) error) error {
	panic("todo")
}

// Close flushes and closes files.
func (l *Log) Close() error { panic("todo") }

// Delete closes the log and removes its directory.
func (l *Log) Delete() error { panic("todo") }
