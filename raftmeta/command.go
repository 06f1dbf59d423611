package raftmeta

import (
	"encoding/json"
	"fmt"
)

// cmdType is the first byte of every raft log entry this package writes.
//
// The codes are persisted in raft logs and snapshots forever: ONLY ADD TO THE
// END, never renumber or reuse a code, and never change the meaning of an
// existing payload field (add new fields instead; JSON ignores unknown ones,
// which lets an older binary read a newer payload of a known command).
type cmdType uint8

const (
	_                        cmdType = iota // 0 is never written, so a zeroed entry fails loudly
	cmdRegisterBroker                       // registerBrokerCmd
	cmdCreateTopic                          // createTopicCmd
	cmdDeleteTopic                          // deleteTopicCmd
	cmdCreatePartitions                     // createPartitionsCmd
	cmdAlterTopicConfigs                    // alterTopicConfigsCmd
	cmdAllocateProducerIDs                  // allocateProducerIDsCmd
	cmdSetPartitionState                    // setPartitionStateCmd
	cmdSetClusterID                         // setClusterIDCmd
	cmdSetBrokersFenced                     // setBrokersFencedCmd
	cmdAlterScramCredentials                // alterScramCredentialsCmd (scram.go)
	cmdCreateACLs                           // createACLsCmd (acls.go)
	cmdDeleteACLs                           // deleteACLsCmd (acls.go)
	cmdReassignPartition                    // reassignPartitionCmd (reassign.go)
	cmdAlterBrokerConfigs                   // alterBrokerConfigsCmd (brokerconfigs.go)
	cmdAlterClientQuotas                    // alterClientQuotasCmd (quotas.go)
	cmdUnregisterBroker                     // unregisterBrokerCmd (unregister.go)
	cmdAlterGroupConfigs                    // alterGroupConfigsCmd (groupconfigs.go)
	cmdUpdateFeatures                       // updateFeaturesCmd (features.go): 18
	cmdAlterClientMetrics                   // alterClientMetricsCmd (clientmetrics.go): 19
	cmdDelegationToken                      // delegationTokenCmd (tokens.go): 20
	// Add new commands here, at the end.
)

func (c cmdType) String() string {
	switch c {
	case cmdRegisterBroker:
		return "RegisterBroker"
	case cmdCreateTopic:
		return "CreateTopic"
	case cmdDeleteTopic:
		return "DeleteTopic"
	case cmdCreatePartitions:
		return "CreatePartitions"
	case cmdAlterTopicConfigs:
		return "AlterTopicConfigs"
	case cmdAllocateProducerIDs:
		return "AllocateProducerIDs"
	case cmdSetPartitionState:
		return "SetPartitionState"
	case cmdSetClusterID:
		return "SetClusterID"
	case cmdSetBrokersFenced:
		return "SetBrokersFenced"
	case cmdCreateACLs:
		return "CreateACLs"
	case cmdDeleteACLs:
		return "DeleteACLs"
	case cmdAlterScramCredentials:
		return "AlterScramCredentials"
	case cmdReassignPartition:
		return "ReassignPartition"
	case cmdAlterBrokerConfigs:
		return "AlterBrokerConfigs"
	case cmdAlterClientQuotas:
		return "AlterClientQuotas"
	case cmdUnregisterBroker:
		return "UnregisterBroker"
	case cmdAlterGroupConfigs:
		return "AlterGroupConfigs"
	case cmdUpdateFeatures:
		return "UpdateFeatures"
	case cmdAlterClientMetrics:
		return "AlterClientMetrics"
	case cmdDelegationToken:
		return "DelegationToken"
	}
	return fmt.Sprintf("cmdType(%d)", uint8(c))
}

// Command payloads. Everything non-deterministic (topic ids, replica
// placement, the cluster id) is decided by the proposer and carried here, so
// that every FSM applying the entry computes the same state.

type registerBrokerCmd struct {
	Broker Broker `json:"broker"`
}

type createTopicCmd struct {
	Name     string            `json:"name"`
	ID       [16]byte          `json:"id"`
	Replicas [][]int32         `json:"replicas"` // one replica list per partition; leader = first
	Configs  map[string]string `json:"configs,omitempty"`
	Internal bool              `json:"internal,omitempty"`
}

type deleteTopicCmd struct {
	Name string `json:"name"`
}

type createPartitionsCmd struct {
	Name string `json:"name"`
	// Total is the partition count after the change; the FSM rejects the
	// command unless current+len(Replicas) == Total, so a retried or racing
	// proposal cannot add partitions twice.
	Total    int32     `json:"total"`
	Replicas [][]int32 `json:"replicas"` // for the new partitions only
}

type alterTopicConfigsCmd struct {
	Name string     `json:"name"`
	Ops  []ConfigOp `json:"ops"`
}

type allocateProducerIDsCmd struct {
	Count int64 `json:"count"`
}

type setPartitionStateCmd struct {
	Change PartitionChange `json:"change"`
}

type setClusterIDCmd struct {
	ClusterID string `json:"cluster_id"`
}

// setBrokersFencedCmd fences and unfences registered brokers in one entry, so
// a whole rack going away costs one log entry. An id in both lists is
// rejected; an unregistered id fails the command (brokers are never removed,
// so the proposer, which read the state, only lists registered ones).
type setBrokersFencedCmd struct {
	Fence   []int32 `json:"fence,omitempty"`
	Unfence []int32 `json:"unfence,omitempty"`
}

// command is a decoded log entry. validate runs the checks that need only
// the command (validate.go); apply, run only after validate passed, checks
// it against the state and returns the next state (nil when nothing
// changes or the command fails) without mutating s.
type command interface {
	validate() error
	apply(s *State) (*State, applyResult)
}

// newCommand returns an empty command of type t to decode into, or nil for a
// code this binary does not know.
func newCommand(t cmdType) command {
	switch t {
	case cmdRegisterBroker:
		return &registerBrokerCmd{}
	case cmdCreateTopic:
		return &createTopicCmd{}
	case cmdDeleteTopic:
		return &deleteTopicCmd{}
	case cmdCreatePartitions:
		return &createPartitionsCmd{}
	case cmdAlterTopicConfigs:
		return &alterTopicConfigsCmd{}
	case cmdAllocateProducerIDs:
		return &allocateProducerIDsCmd{}
	case cmdSetPartitionState:
		return &setPartitionStateCmd{}
	case cmdSetClusterID:
		return &setClusterIDCmd{}
	case cmdSetBrokersFenced:
		return &setBrokersFencedCmd{}
	case cmdCreateACLs:
		return &createACLsCmd{}
	case cmdDeleteACLs:
		return &deleteACLsCmd{}
	case cmdAlterScramCredentials:
		return &alterScramCredentialsCmd{}
	case cmdReassignPartition:
		return &reassignPartitionCmd{}
	case cmdAlterBrokerConfigs:
		return &alterBrokerConfigsCmd{}
	case cmdAlterClientQuotas:
		return &alterClientQuotasCmd{}
	case cmdUnregisterBroker:
		return &unregisterBrokerCmd{}
	case cmdAlterGroupConfigs:
		return &alterGroupConfigsCmd{}
	case cmdUpdateFeatures:
		return &updateFeaturesCmd{}
	case cmdAlterClientMetrics:
		return &alterClientMetricsCmd{}
	case cmdDelegationToken:
		return &delegationTokenCmd{}
	}
	return nil
}

// encodeCommand frames a command as one type byte followed by its JSON body.
func encodeCommand(t cmdType, body any) ([]byte, error) {
	js, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("raftmeta: encode %v: %w", t, err)
	}
	buf := make([]byte, 0, 1+len(js))
	buf = append(buf, byte(t))
	return append(buf, js...), nil
}

// decodeBody unmarshals a command body, wrapping failures in ErrCorruptCommand.
func decodeBody(t cmdType, body []byte, into any) error {
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("%w: %v: %v", ErrCorruptCommand, t, err)
	}
	return nil
}
