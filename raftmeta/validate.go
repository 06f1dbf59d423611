package raftmeta

import (
	"fmt"
	"slices"
)

// Validation of command contents. Every command is checked twice with the
// same code: by the proposer before it reaches the log (write.go, through
// the dry run of proposeChecked or the stateless checks in propose), and by
// the FSM when it applies the entry (applyCommand), so a command that
// reaches the log by any path — the forwarding port included — is refused
// with an error result on every replica alike, never half applied. The
// checks below look only at the command itself; those that need the state
// (registered brokers, existing topics, partition epochs) live with each
// apply function.
//
// The limits bound what one command can make every broker allocate or
// create on disk. Raising one is compatible; lowering one makes replicas
// running the new binary refuse entries older binaries accepted.

const (
	// MaxTopicNameLen is Kafka's limit on topic names: 249 characters,
	// leaving room for the "-<partition>" suffix (and Kafka's
	// ".<uuid>-delete" and "-stray" suffixes) in a 255-byte directory name.
	MaxTopicNameLen = 249
	// maxPartitions caps one topic's partition count, so that a request
	// cannot make the controller allocate an arbitrary amount of memory.
	maxPartitions = 100_000
	// maxListeners caps a broker's advertised listeners.
	maxListeners = 64
	// maxFieldLen caps free-text fields: listener names and hosts, racks,
	// raft addresses, cluster ids, config keys.
	maxFieldLen = 255
	// maxConfigValueLen caps one topic config value (all of Strom's
	// topic configs are numbers or short enumerations).
	maxConfigValueLen = 4096
	// maxConfigs caps the configs of one topic and the operations of one
	// AlterTopicConfigs.
	maxConfigs = 1000
	// MaxProducerIDBlock caps one AllocateProducerIDs (Kafka hands out
	// blocks of 1000).
	MaxProducerIDBlock = 1 << 20
)

// ValidateTopicName applies Kafka's rules for topic names: 1 to 249
// characters of ASCII letters, digits, '.', '_' and '-', and neither "." nor
// "..". A topic's name becomes the directory name of its partitions, so
// these rules are also what keeps a name from reaching outside the data
// directory ("x/../orders"). The error wraps ErrInvalidTopicName.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: topic name is empty", ErrInvalidTopicName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: topic name cannot be %q", ErrInvalidTopicName, name)
	case len(name) > MaxTopicNameLen:
		return fmt.Errorf("%w: topic name is %d characters, the limit is %d",
			ErrInvalidTopicName, len(name), MaxTopicNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			continue
		}
		return fmt.Errorf("%w: topic name %q has the illegal character %q (allowed: ASCII letters, digits, '.', '_', '-')",
			ErrInvalidTopicName, name, c)
	}
	return nil
}

// validateBroker checks a broker registration: a non-negative id, at most
// maxListeners listeners with distinct non-empty names, non-empty hosts and
// ports 1..65535, and bounded free-text fields.
func validateBroker(b Broker) error {
	if b.ID < 0 {
		return fmt.Errorf("%w: id %d", ErrInvalidBroker, b.ID)
	}
	if b.Epoch < 0 {
		return fmt.Errorf("%w: broker %d: epoch %d", ErrInvalidBroker, b.ID, b.Epoch)
	}
	if len(b.Listeners) > maxListeners {
		return fmt.Errorf("%w: broker %d has %d listeners, the limit is %d", ErrInvalidBroker, b.ID, len(b.Listeners), maxListeners)
	}
	for i, l := range b.Listeners {
		switch {
		case l.Name == "" || len(l.Name) > maxFieldLen:
			return fmt.Errorf("%w: broker %d: listener %d has a name of %d bytes", ErrInvalidBroker, b.ID, i, len(l.Name))
		case l.Host == "" || len(l.Host) > maxFieldLen:
			return fmt.Errorf("%w: broker %d: listener %s has a host of %d bytes", ErrInvalidBroker, b.ID, l.Name, len(l.Host))
		case l.Port < 1 || l.Port > 65535:
			return fmt.Errorf("%w: broker %d: listener %s has port %d", ErrInvalidBroker, b.ID, l.Name, l.Port)
		}
		for _, prev := range b.Listeners[:i] {
			if prev.Name == l.Name {
				return fmt.Errorf("%w: broker %d: listener %s listed twice", ErrInvalidBroker, b.ID, l.Name)
			}
		}
	}
	if len(b.Rack) > maxFieldLen || len(b.RaftAddr) > maxFieldLen {
		return fmt.Errorf("%w: broker %d: rack or raft address longer than %d bytes", ErrInvalidBroker, b.ID, maxFieldLen)
	}
	return nil
}

// validateConfigs checks a topic's configs as stored: at most maxConfigs
// entries, keys of 1..maxFieldLen bytes, values of at most maxConfigValueLen.
// Whether a key is known and its value parses is the server's business.
func validateConfigs(m map[string]string) error {
	if len(m) > maxConfigs {
		return fmt.Errorf("%w: %d topic configs, the limit is %d", ErrInvalidConfig, len(m), maxConfigs)
	}
	for k, v := range m {
		if err := validateConfigEntry(k, &v); err != nil {
			return err
		}
	}
	return nil
}

// validateConfigOps checks an AlterTopicConfigs operation list.
func validateConfigOps(ops []ConfigOp) error {
	if len(ops) > maxConfigs {
		return fmt.Errorf("%w: %d config operations, the limit is %d", ErrInvalidConfig, len(ops), maxConfigs)
	}
	for _, op := range ops {
		if err := validateConfigEntry(op.Key, op.Value); err != nil {
			return err
		}
	}
	return nil
}

func validateConfigEntry(key string, value *string) error {
	if key == "" || len(key) > maxFieldLen {
		return fmt.Errorf("%w: config key of %d bytes (allowed 1..%d)", ErrInvalidConfig, len(key), maxFieldLen)
	}
	if value != nil && len(*value) > maxConfigValueLen {
		return fmt.Errorf("%w: value of %s is %d bytes, the limit is %d", ErrInvalidConfig, key, len(*value), maxConfigValueLen)
	}
	return nil
}

// validateReplicaLists checks the shape of per-partition replica lists
// without the state: 1..maxPartitions lists, each non-empty, of equal length
// (the replication factor), with non-negative, distinct ids. Whether the
// ids are registered brokers is checked against the state
// (validateAssignment).
func validateReplicaLists(lists [][]int32) error {
	if len(lists) == 0 || len(lists) > maxPartitions {
		return fmt.Errorf("%w: %d partitions (allowed 1..%d)", ErrInvalidPartitions, len(lists), maxPartitions)
	}
	rf := len(lists[0])
	if rf == 0 {
		return fmt.Errorf("%w: partition 0 has no replicas", ErrInvalidReplicationFactor)
	}
	for i, r := range lists {
		if len(r) != rf {
			return fmt.Errorf("%w: partition %d has %d replicas, want %d", ErrInvalidReplicaAssignment, i, len(r), rf)
		}
		for j, id := range r {
			if id < 0 || slices.Contains(r[:j], id) {
				return fmt.Errorf("%w: partition %d: replicas %v", ErrInvalidReplicaAssignment, i, r)
			}
		}
	}
	return nil
}

// validateIDList checks a list of broker ids: all non-negative, and no
// more than maxPartitions of them (a bound well above any cluster).
func validateIDList(ids []int32) error {
	if len(ids) > maxPartitions {
		return fmt.Errorf("%w: %d ids", ErrInvalidBroker, len(ids))
	}
	for _, id := range ids {
		if id < 0 {
			return fmt.Errorf("%w: id %d", ErrInvalidBroker, id)
		}
	}
	return nil
}

// Stateless checks of each command, run by applyCommand before the command
// touches the state and by propose before it is proposed.

func (c *registerBrokerCmd) validate() error { return validateBroker(c.Broker) }

func (c *createTopicCmd) validate() error {
	if err := ValidateTopicName(c.Name); err != nil {
		return err
	}
	if c.ID == ([16]byte{}) {
		return fmt.Errorf("%w: create %q without a topic id", ErrCorruptCommand, c.Name)
	}
	if err := validateReplicaLists(c.Replicas); err != nil {
		return fmt.Errorf("topic %q: %w", c.Name, err)
	}
	return validateConfigs(c.Configs)
}

func (c *deleteTopicCmd) validate() error { return ValidateTopicName(c.Name) }

func (c *createPartitionsCmd) validate() error {
	if err := ValidateTopicName(c.Name); err != nil {
		return err
	}
	if c.Total < 1 || c.Total > maxPartitions {
		return fmt.Errorf("%w: %q: total %d (allowed 1..%d)", ErrInvalidPartitions, c.Name, c.Total, maxPartitions)
	}
	if err := validateReplicaLists(c.Replicas); err != nil {
		return fmt.Errorf("topic %q: %w", c.Name, err)
	}
	return nil
}

func (c *alterTopicConfigsCmd) validate() error {
	if err := ValidateTopicName(c.Name); err != nil {
		return err
	}
	return validateConfigOps(c.Ops)
}

func (c *allocateProducerIDsCmd) validate() error {
	if c.Count < 1 || c.Count > MaxProducerIDBlock {
		return fmt.Errorf("%w: %d (allowed 1..%d)", ErrInvalidProducerIDCount, c.Count, MaxProducerIDBlock)
	}
	return nil
}

func (c *setPartitionStateCmd) validate() error {
	ch := c.Change
	if err := ValidateTopicName(ch.Topic); err != nil {
		return err
	}
	if ch.Partition < 0 || ch.Partition >= maxPartitions {
		return fmt.Errorf("%w: %q partition %d", ErrUnknownPartition, ch.Topic, ch.Partition)
	}
	if ch.Leader < -1 {
		return fmt.Errorf("%w: %s-%d: leader %d", ErrInvalidPartitionState, ch.Topic, ch.Partition, ch.Leader)
	}
	if err := validateIDList(ch.ISR); err != nil {
		return fmt.Errorf("%w: %s-%d: ISR %v", ErrInvalidPartitionState, ch.Topic, ch.Partition, ch.ISR)
	}
	return nil
}

func (c *setClusterIDCmd) validate() error {
	if c.ClusterID == "" || len(c.ClusterID) > maxFieldLen {
		return fmt.Errorf("%w: cluster id of %d bytes (allowed 1..%d)", ErrCorruptCommand, len(c.ClusterID), maxFieldLen)
	}
	return nil
}

func (c *setBrokersFencedCmd) validate() error {
	if err := validateIDList(c.Fence); err != nil {
		return err
	}
	return validateIDList(c.Unfence)
}
