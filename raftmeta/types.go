package raftmeta

import "slices"

// Listener is one named advertised endpoint of a broker.
type Listener struct {
	Name string // e.g. PLAINTEXT, INTERNAL, EXTERNAL
	Host string
	Port int32
}

// Broker is a registered broker.
type Broker struct {
	ID        int32
	Listeners []Listener
	Rack      string
	RaftAddr  string
	Fenced    bool // registered but not currently alive; never chosen for new replicas
	// Epoch is the broker epoch (KRaft's, KIP-903): chosen at random by the
	// controller at every registration, so each start of a broker process
	// gets a new one, which its follower fetches must carry. A leader takes
	// a fetch in a replica's name only at that replica's current epoch, so
	// a client cannot pose as a follower by claiming its id. 0 means none (a
	// registration made before epochs existed); never negative. Never shown
	// to Kafka clients: it is what a follower proves its identity with.
	Epoch int64
	// DirectoryID is the id of the broker's data directory (Kafka's
	// directory.id), drawn once per directory: the voter key of KIP-853
	// (DescribeQuorum, AddRaftVoter, RemoveRaftVoter) is node id plus
	// directory id. Zero for a registration made before directory ids.
	DirectoryID [16]byte
}

// Partition is the controller's view of one partition.
type Partition struct {
	Index    int32
	Replicas []int32
	ISR      []int32
	Leader   int32 // -1 when offline
	// LeaderEpoch grows by one whenever the leader changes; replicas fence
	// requests from older leaders with it.
	LeaderEpoch int32
	// PartitionEpoch grows by one on every change of this partition (leader or
	// ISR); AlterPartition proposals carry the epoch they were based on.
	PartitionEpoch int32
	// AddingReplicas and RemovingReplicas describe a reassignment in
	// progress (Kafka's PartitionRegistration fields): Replicas is then the
	// target followed by the replicas being removed; the adding ones catch
	// up as followers, and once every target replica is in the ISR the
	// controller completes it (reassign.go). Both nil when none is running.
	AddingReplicas   []int32 `json:",omitempty"`
	RemovingReplicas []int32 `json:",omitempty"`
}

// Topic is an immutable snapshot of a topic. Never mutate it: the same
// *Topic is shared by every State published until the topic changes.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions []Partition
	Configs    map[string]string // only explicitly set topic configs; nil when none
	Internal   bool
}

// State is an immutable snapshot of all metadata. Never mutate it: readers
// share it without locks, and each apply publishes a fresh one.
type State struct {
	ClusterID      string
	ControllerID   int32 // node id of the raft leader, -1 if none; not part of the FSM
	Brokers        map[int32]Broker
	Topics         map[string]*Topic
	TopicsByID     map[[16]byte]*Topic
	NextProducerID int64
	Index          uint64 // raft index of the last applied command that changed the state
	// ACLs are the access control bindings, sorted (compareACL), without
	// duplicates; shared between states until an ACL command changes them.
	ACLs []ACL
	// Scram holds SCRAM credentials: user → mechanism → credential
	// (scram.go). Never mutate it; nil when there are none.
	Scram map[string]map[string]ScramCredential
	// BrokerConfigs are the dynamic broker configs by broker id
	// (DefaultBrokerConfigs: cluster-wide), brokerconfigs.go. Never mutate
	// it; nil when there are none.
	BrokerConfigs map[int32]map[string]string
	// Quotas are the client quotas by QuotaEntity.QuotaKey (quotas.go).
	// Never mutate it; nil when there are none.
	Quotas map[string]QuotaEntry
	// GroupConfigs are the group configs by group id (groupconfigs.go).
	// Never mutate it; nil when there are none.
	GroupConfigs map[string]map[string]string
	// Features are the finalized feature levels set by UpdateFeatures
	// (features.go), FeaturesEpoch the number of such changes. Never
	// mutate it; nil when none was ever set.
	Features      map[string]int16
	FeaturesEpoch int64
	// ClientMetrics are the KIP-714 client metrics subscriptions by name
	// (clientmetrics.go). Never mutate it; nil when there are none.
	ClientMetrics map[string]map[string]string
	// Tokens are the delegation tokens by token id (tokens.go). Never
	// mutate it; nil when there are none.
	Tokens map[string]DelegationToken
}

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name string
	// Partitions must be >= 1 unless Assignment is given (then it may be 0 or -1,
	// meaning "len(Assignment)"); the server resolves Kafka's -1 ("broker
	// default") before calling.
	Partitions int32
	// ReplicationFactor must be >= 1 unless Assignment is given; the server
	// resolves Kafka's -1 ("broker default") before calling.
	ReplicationFactor int16
	Assignment        [][]int32 // optional explicit replica assignment per partition
	Configs           map[string]string
	Internal          bool
}

// ConfigOp is one IncrementalAlterConfigs operation; Value nil deletes the key.
type ConfigOp struct {
	Key   string
	Value *string
}

// PartitionChange asks the controller to change a partition's leader and ISR
// (Kafka's AlterPartition and leader election). The FSM rejects it with
// ErrStalePartitionEpoch unless PartitionEpoch equals the current one, so two
// racing proposals based on the same view cannot both win.
type PartitionChange struct {
	Topic          string
	Partition      int32
	Leader         int32 // -1 for offline
	ISR            []int32
	PartitionEpoch int32 // the epoch the change was computed from
}

// emptyState is the state before anything was applied.
func emptyState() *State {
	return &State{
		ControllerID: -1,
		Brokers:      map[int32]Broker{},
		Topics:       map[string]*Topic{},
		TopicsByID:   map[[16]byte]*Topic{},
	}
}

// Broker returns broker id and whether it is registered.
func (s *State) Broker(id int32) (Broker, bool) {
	b, ok := s.Brokers[id]
	return b, ok
}

// Topic returns the named topic or nil.
func (s *State) Topic(name string) *Topic { return s.Topics[name] }

// BrokerIDs returns the registered broker ids in ascending order.
func (s *State) BrokerIDs() []int32 {
	ids := make([]int32, 0, len(s.Brokers))
	for id := range s.Brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// liveBrokerIDs returns the unfenced broker ids in ascending order: the
// candidates for new replicas.
func (s *State) liveBrokerIDs() []int32 {
	ids := make([]int32, 0, len(s.Brokers))
	for id, b := range s.Brokers {
		if !b.Fenced {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// clone returns a shallow copy whose maps may be modified; the values
// (Brokers, *Topic) are still shared and must be replaced, not mutated.
func (s *State) clone() *State {
	c := *s
	c.Brokers = make(map[int32]Broker, len(s.Brokers)+1)
	for k, v := range s.Brokers {
		c.Brokers[k] = v
	}
	c.Topics = make(map[string]*Topic, len(s.Topics)+1)
	for k, v := range s.Topics {
		c.Topics[k] = v
	}
	c.TopicsByID = make(map[[16]byte]*Topic, len(s.TopicsByID)+1)
	for k, v := range s.TopicsByID {
		c.TopicsByID[k] = v
	}
	return &c
}

// putTopic stores t in both indexes of a cloned state.
func (s *State) putTopic(t *Topic) {
	s.Topics[t.Name] = t
	s.TopicsByID[t.ID] = t
}

// clone returns a deep copy of the topic, to be modified and then published.
func (t *Topic) clone() *Topic {
	c := *t
	c.Partitions = make([]Partition, len(t.Partitions))
	for i, p := range t.Partitions {
		c.Partitions[i] = p.clone()
	}
	c.Configs = copyConfigs(t.Configs)
	return &c
}

func (p Partition) clone() Partition {
	p.Replicas = slices.Clone(p.Replicas)
	p.ISR = slices.Clone(p.ISR)
	p.AddingReplicas = slices.Clone(p.AddingReplicas)
	p.RemovingReplicas = slices.Clone(p.RemovingReplicas)
	return p
}

// copyConfigs copies m, normalising empty to nil so that states compare equal
// after a snapshot round trip.
func copyConfigs(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// FencedBrokers returns the registered brokers that are fenced (set by
// ReconcileMembers when they left the membership), as a set: the usual
// fencedOrDead argument of ElectLeaders, possibly merged with the server's
// own view of dead brokers.
func (s *State) FencedBrokers() map[int32]bool {
	out := map[int32]bool{}
	for id, b := range s.Brokers {
		if b.Fenced {
			out[id] = true
		}
	}
	return out
}
