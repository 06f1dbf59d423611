package group

import (
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Config configures the coordinator.
type Config struct {
	NumPartitions         int32         // offsets.topic.num.partitions (50)
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms (6s)
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms (30m)
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms (3s; tests use 0)
	OffsetsRetention      time.Duration // offsets.retention.minutes (7d)
	Logger                *slog.Logger
	// TopicPartitionExists, if set, is used to reject commits for unknown partitions.
	TopicPartitionExists func(topic string, partition int32) bool

	// OffsetsRetentionCheckInterval is how often expired offsets are swept
	// (offsets.retention.check.interval.ms, 10m). Zero means the default.
	OffsetsRetentionCheckInterval time.Duration
	// MaxMetadataSize bounds the metadata string of a committed offset
	// (offset.metadata.max.bytes, 4096). Zero means the default.
	MaxMetadataSize int
	// MaxSize is group.max.size: the most members (joined or pending) one
	// group may have; a JoinGroup beyond it gets ErrGroupMaxSizeReached.
	// Zero or less means unlimited (Kafka's default is 2147483647).
	MaxSize int
}

// Defaults, as in Kafka's broker configuration.
const (
	defaultNumPartitions     = 50
	defaultMinSession        = 6 * time.Second
	defaultMaxSession        = 30 * time.Minute
	defaultInitialDelay      = 3 * time.Second
	defaultRetention         = 7 * 24 * time.Hour
	defaultRetentionInterval = 10 * time.Minute
	defaultMaxMetadataSize   = 4096
)

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		NumPartitions:                 defaultNumPartitions,
		MinSessionTimeout:             defaultMinSession,
		MaxSessionTimeout:             defaultMaxSession,
		InitialRebalanceDelay:         defaultInitialDelay,
		OffsetsRetention:              defaultRetention,
		OffsetsRetentionCheckInterval: defaultRetentionInterval,
		MaxMetadataSize:               defaultMaxMetadataSize,
		MaxSize:                       math.MaxInt32,
	}
}

// Validate reports a configuration the coordinator cannot run with. New
// repairs such values with defaults instead, so callers that want to refuse
// bad configuration call Validate first.
func (c Config) Validate() error {
	switch {
	case c.NumPartitions <= 0:
		return fmt.Errorf("%w: NumPartitions %d must be positive", ErrInvalidConfig, c.NumPartitions)
	case c.MinSessionTimeout < 0:
		return fmt.Errorf("%w: MinSessionTimeout %v is negative", ErrInvalidConfig, c.MinSessionTimeout)
	case c.MaxSessionTimeout < c.MinSessionTimeout:
		return fmt.Errorf("%w: MaxSessionTimeout %v below MinSessionTimeout %v", ErrInvalidConfig, c.MaxSessionTimeout, c.MinSessionTimeout)
	case c.InitialRebalanceDelay < 0:
		return fmt.Errorf("%w: InitialRebalanceDelay %v is negative", ErrInvalidConfig, c.InitialRebalanceDelay)
	case c.OffsetsRetention <= 0:
		return fmt.Errorf("%w: OffsetsRetention %v must be positive", ErrInvalidConfig, c.OffsetsRetention)
	case c.OffsetsRetentionCheckInterval < 0:
		return fmt.Errorf("%w: OffsetsRetentionCheckInterval %v is negative", ErrInvalidConfig, c.OffsetsRetentionCheckInterval)
	case c.MaxMetadataSize < 0:
		return fmt.Errorf("%w: MaxMetadataSize %d is negative", ErrInvalidConfig, c.MaxMetadataSize)
	}
	return nil
}

// withDefaults fills zero or out-of-range fields so New never runs with a
// configuration that would divide by zero or expire everything at once.
func (c Config) withDefaults() Config {
	if c.NumPartitions <= 0 {
		c.NumPartitions = defaultNumPartitions
	}
	if c.MinSessionTimeout < 0 {
		c.MinSessionTimeout = 0
	}
	if c.MaxSessionTimeout <= 0 || c.MaxSessionTimeout < c.MinSessionTimeout {
		c.MaxSessionTimeout = max(defaultMaxSession, c.MinSessionTimeout)
	}
	if c.InitialRebalanceDelay < 0 {
		c.InitialRebalanceDelay = 0
	}
	if c.OffsetsRetention <= 0 {
		c.OffsetsRetention = defaultRetention
	}
	if c.OffsetsRetentionCheckInterval <= 0 {
		c.OffsetsRetentionCheckInterval = defaultRetentionInterval
	}
	if c.MaxMetadataSize <= 0 {
		c.MaxMetadataSize = defaultMaxMetadataSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
