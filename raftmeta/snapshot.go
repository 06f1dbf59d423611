package raftmeta

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
)

// snapshotVersion is bumped only if the snapshot layout changes incompatibly;
// Restore rejects versions it does not know instead of guessing.
const snapshotVersion = 1

// snapshotFile is the JSON layout of an FSM snapshot. Broker, Topic,
// Partition and Listener are encoded with their Go field names (as are the
// Broker, ConfigOp and PartitionChange inside commands), so renaming one of
// their exported fields changes the persisted format: add fields, never rename. Maps become sorted
// slices: JSON cannot key a map by [16]byte, and sorted output makes two
// snapshots of equal states byte-identical.
type snapshotFile struct {
	Version        int      `json:"version"`
	ClusterID      string   `json:"cluster_id"`
	Brokers        []Broker `json:"brokers"`
	Topics         []*Topic `json:"topics"`
	NextProducerID int64    `json:"next_producer_id"`
	Index          uint64   `json:"index"`
	ACLs           []ACL    `json:"acls,omitempty"` // sorted; absent in snapshots written before ACLs
	// Scram is the SCRAM credentials, by user (scram.go).
	Scram []scramSnapshot `json:"scram,omitempty"`
	// BrokerConfigs are the dynamic broker configs (brokerconfigs.go).
	BrokerConfigs []brokerConfigsSnapshot `json:"broker_configs,omitempty"`
	// Quotas are the client quotas (quotas.go).
	Quotas []QuotaEntry `json:"quotas,omitempty"`
	// GroupConfigs are the group configs (groupconfigs.go).
	GroupConfigs []groupConfigsSnapshot `json:"group_configs,omitempty"`
	// Features are the finalized feature levels (features.go).
	Features *featuresSnapshot `json:"features,omitempty"`
	// ClientMetrics are the client metrics subscriptions (clientmetrics.go).
	ClientMetrics []clientMetricsSnapshot `json:"client_metrics,omitempty"`
	// Tokens are the delegation tokens (tokens.go).
	Tokens []DelegationToken `json:"delegation_tokens,omitempty"`
}

func encodeSnapshot(w io.Writer, s *State) error {
	f := snapshotFile{
		Version:        snapshotVersion,
		ClusterID:      s.ClusterID,
		NextProducerID: s.NextProducerID,
		Index:          s.Index,
		Brokers:        make([]Broker, 0, len(s.Brokers)),
		Topics:         make([]*Topic, 0, len(s.Topics)),
		ACLs:           s.ACLs,
		Scram:          encodeScram(s),
		BrokerConfigs:  encodeBrokerConfigs(s),
		Quotas:         encodeQuotas(s),
		GroupConfigs:   encodeGroupConfigs(s),
		Features:       encodeFeatures(s),
		ClientMetrics:  encodeClientMetrics(s),
		Tokens:         encodeTokens(s),
	}
	for _, id := range s.BrokerIDs() {
		f.Brokers = append(f.Brokers, s.Brokers[id])
	}
	for _, name := range slices.Sorted(maps.Keys(s.Topics)) {
		f.Topics = append(f.Topics, s.Topics[name])
	}
	if err := json.NewEncoder(w).Encode(&f); err != nil {
		return fmt.Errorf("raftmeta: write snapshot: %w", err)
	}
	return nil
}

func decodeSnapshot(r io.Reader) (*State, error) {
	var f snapshotFile
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: snapshot: %v", ErrCorruptCommand, err)
	}
	if f.Version != snapshotVersion {
		return nil, fmt.Errorf("%w: snapshot version %d, want %d", ErrCorruptCommand, f.Version, snapshotVersion)
	}
	s := emptyState()
	s.ClusterID = f.ClusterID
	s.NextProducerID = f.NextProducerID
	s.Index = f.Index
	if err := restoreACLs(s, f.ACLs); err != nil {
		return nil, err
	}
	for _, b := range f.Brokers {
		if _, dup := s.Brokers[b.ID]; dup {
			return nil, fmt.Errorf("%w: snapshot lists broker %d twice", ErrCorruptCommand, b.ID)
		}
		s.Brokers[b.ID] = b
	}
	for _, t := range f.Topics {
		if t == nil || s.Topics[t.Name] != nil || s.TopicsByID[t.ID] != nil {
			return nil, fmt.Errorf("%w: snapshot has a missing or duplicate topic", ErrCorruptCommand)
		}
		t.Configs = copyConfigs(t.Configs)
		s.putTopic(t)
	}
	if err := decodeScram(s, f.Scram); err != nil {
		return nil, err
	}
	if err := decodeBrokerConfigs(s, f.BrokerConfigs); err != nil {
		return nil, err
	}
	if err := decodeQuotas(s, f.Quotas); err != nil {
		return nil, err
	}
	if err := decodeGroupConfigs(s, f.GroupConfigs); err != nil {
		return nil, err
	}
	if err := decodeFeatures(s, f.Features); err != nil {
		return nil, err
	}
	if err := decodeClientMetrics(s, f.ClientMetrics); err != nil {
		return nil, err
	}
	if err := decodeTokens(s, f.Tokens); err != nil {
		return nil, err
	}
	return s, nil
}
