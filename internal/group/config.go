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

	// Consumer-protocol (KIP-848) groups.
	//
	// ConsumerHeartbeatInterval is group.consumer.heartbeat.interval.ms
	// (5s), ConsumerSessionTimeout group.consumer.session.timeout.ms
	// (45s), ConsumerMaxSize group.consumer.max.size (zero or less:
	// unlimited), ConsumerAssignors group.consumer.assignors (the first
	// is the default; names from "uniform" and "range").
	ConsumerHeartbeatInterval time.Duration
	ConsumerSessionTimeout    time.Duration
	ConsumerMaxSize           int
	ConsumerAssignors         []string
	// Topics returns every topic by name (an immutable map the caller may
	// keep); consumer groups resolve subscriptions against it. Nil: no
	// topics.
	Topics func() map[string]TopicInfo
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
	defaultConsumerHeartbeat = 5 * time.Second
	defaultConsumerSession   = 45 * time.Second
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
		ConsumerHeartbeatInterval:     defaultConsumerHeartbeat,
		ConsumerSessionTimeout:        defaultConsumerSession,
		ConsumerMaxSize:               math.MaxInt32,
		ConsumerAssignors:             []string{AssignorUniform, AssignorRange},
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
	case c.ConsumerHeartbeatInterval < 0 || c.ConsumerSessionTimeout < 0:
		return fmt.Errorf("%w: consumer heartbeat interval %v and session timeout %v must not be negative", ErrInvalidConfig, c.ConsumerHeartbeatInterval, c.ConsumerSessionTimeout)
	case c.ConsumerSessionTimeout > 0 && c.ConsumerHeartbeatInterval >= c.ConsumerSessionTimeout:
		return fmt.Errorf("%w: consumer heartbeat interval %v must be below the session timeout %v", ErrInvalidConfig, c.ConsumerHeartbeatInterval, c.ConsumerSessionTimeout)
	}
	for _, a := range c.ConsumerAssignors {
		if assignors[a] == nil {
			return fmt.Errorf("%w: unknown consumer group assignor %q (have uniform, range)", ErrInvalidConfig, a)
		}
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
	if c.ConsumerHeartbeatInterval <= 0 {
		c.ConsumerHeartbeatInterval = defaultConsumerHeartbeat
	}
	if c.ConsumerSessionTimeout <= 0 {
		c.ConsumerSessionTimeout = defaultConsumerSession
	}
	var known []string
	for _, a := range c.ConsumerAssignors {
		if assignors[a] != nil {
			known = append(known, a)
		}
	}
	if len(known) == 0 {
		known = []string{AssignorUniform, AssignorRange}
	}
	c.ConsumerAssignors = known
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
