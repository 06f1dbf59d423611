package server

// Metadata (key 3), v0-v13.
//
// Brokers are answered with the advertised address of the listener the
// request arrived on, so a client connected to the EXTERNAL listener is never
// handed an INTERNAL address. Topic auto-creation follows Kafka: v0-v3 imply
// it (there is no AllowAutoTopicCreation field before v4 — kafka-python 2.0.2
// sends v1), v4+ ask for it; both need auto.create.topics.enable. A created
// topic is reported as LEADER_NOT_AVAILABLE on the first answer, like Kafka,
// unless its partitions are already led here, in which case it is returned
// ready. v10+ carry topic IDs; v12 may ask by topic ID with a null name.
// v13 (KIP-1102) adds a top-level ErrorCode for REBOOTSTRAP_REQUIRED, which a
// Kafka broker never sets (only clients' own rebootstrap logic uses it), and
// nor does Strom: it is 0.
// Null topics (v1+) means all topics; an empty list means none; v0 treats an
// empty list as all. A request for all topics, or naming a topic this
// broker does not know, is answered after catching up with the controller
// (catchup.go), so every broker answers for a topic as soon as CreateTopics
// has answered anywhere. One request auto-creates at most
// auto.create.topics.max.per.request topics; the others are answered
// LEADER_NOT_AVAILABLE (retriable) and created by the client's next request.
// An answer that would name as leader a broker this one finds gone (its
// process killed, not yet fenced) waits, boundedly, for the controller to
// replace it (goneleader.go).
//
// Authorization (Kafka's): a request for all topics lists only those the
// principal may DESCRIBE; a named topic it may not describe (known or not)
// is answered TOPIC_AUTHORIZATION_FAILED, and so is an unknown one to
// auto-create without CREATE on the cluster or on the topic. v8+ fill the
// authorized-operations bitfields asked for (the cluster's up to v10).

import (
	"context"
	"maps"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleMetadata(ctx context.Context, req *wire.Request, r *kmsg.MetadataRequest) kmsg.Response {
	resp := kmsg.NewPtrMetadataResponse() // defaults: authorized operations "not requested"
	resp.Version = r.Version
	s.awaitGoneLeaders(ctx, r) // goneleader.go: not a leader known dead, if it is about to change
	st := s.meta.State()
	resp.Brokers = metadataBrokers(st, req.Conn)
	cid := st.ClusterID
	resp.ClusterID = &cid
	resp.ControllerID = s.clientControllerID(st)

	if r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0) {
		// Whatever a client learnt elsewhere may be missing here: catch
		// up first (all-topics requests are periodic refreshes, rare).
		s.catchUp(ctx)
		st = s.meta.State()
		for _, name := range slices.Sorted(maps.Keys(st.Topics)) {
			if s.authorize(req, acl.OpDescribe, acl.ResourceTopic, name) {
				resp.Topics = append(resp.Topics, s.topicMetadata(st, st.Topics[name], r))
			}
		}
		s.metadataAuthorizedOps(req, r, resp)
		return resp
	}
	if anyUnknown(st, r.Topics) {
		// The client may have learnt of the topic from a fresher broker
		// (or just created it): catch up before answering from local state.
		s.catchUp(ctx)
		st = s.meta.State()
	}
	created := false
	creates := s.cfg.AutoCreateTopicsMaxPerRequest
	for _, rt := range r.Topics {
		mt, c := s.requestedTopic(ctx, req, st, r, rt, &creates)
		resp.Topics = append(resp.Topics, mt)
		created = created || c
	}
	if created {
		// New brokers/controller info may have changed with the creation.
		resp.ControllerID = s.clientControllerID(s.meta.State())
	}
	s.metadataAuthorizedOps(req, r, resp)
	return resp
}

// clientControllerID is the controller id Metadata and DescribeCluster
// give clients: the Raft leader when it is a live registered broker, else
// this broker. Every broker takes the writes of admin requests and forwards
// them to the controller (waiting out an election), as Kafka's KRaft
// brokers tell clients "a random alive broker" for the same reason. A -1
// during an election made clients that send admin requests to the
// controller only (segmentio/kafka-go's CreateTopics) fail at once with
// BROKER_NOT_AVAILABLE instead of being served once the election ends.
func (s *Server) clientControllerID(st *raftmeta.State) int32 {
	if b, ok := st.Brokers[st.ControllerID]; ok && !b.Fenced {
		return st.ControllerID
	}
	return s.cfg.NodeID
}

// metadataAuthorizedOps fills the authorized-operations bitfields a v8+
// request asks for (the cluster's only up to v10).
func (s *Server) metadataAuthorizedOps(req *wire.Request, r *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) {
	if r.Version >= 8 && r.Version <= 10 && r.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = s.authorizedOps(req, acl.ResourceCluster, acl.ClusterName)
	}
	if r.Version < 8 || !r.IncludeTopicAuthorizedOperations {
		return
	}
	for i := range resp.Topics {
		if mt := &resp.Topics[i]; mt.ErrorCode == 0 && mt.Topic != nil {
			mt.AuthorizedOperations = s.authorizedOps(req, acl.ResourceTopic, *mt.Topic)
		}
	}
}

// topicDenied is the answer for a topic the principal may not describe:
// TOPIC_AUTHORIZATION_FAILED, naming it as the request did.
func topicDenied(name *string, id [16]byte) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic, mt.TopicID = name, id
	mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
	return mt
}

// anyUnknown reports whether a requested topic is missing from st.
func anyUnknown(st *raftmeta.State, topics []kmsg.MetadataRequestTopic) bool {
	for _, rt := range topics {
		switch {
		case rt.Topic != nil && st.Topics[*rt.Topic] == nil:
			return true
		case rt.Topic == nil && st.TopicsByID[rt.TopicID] == nil:
			return true
		}
	}
	return false
}

// metadataBrokers lists the live brokers at the addresses of the listener
// the request arrived on.
func metadataBrokers(st *raftmeta.State, conn *wire.ConnInfo) []kmsg.MetadataResponseBroker {
	var out []kmsg.MetadataResponseBroker
	for _, b := range sortedBrokers(st) {
		if b.Fenced {
			continue
		}
		rb := kmsg.NewMetadataResponseBroker()
		rb.NodeID = b.ID
		rb.Host, rb.Port, rb.Rack = advertisedEndpoint(b, conn)
		out = append(out, rb)
	}
	return out
}

// requestedTopic answers one requested topic, by name or (v12) by id,
// auto-creating it where the request and auto.create.topics.enable allow;
// created reports an attempted creation. *creates is how many more topics
// this request may auto-create (auto.create.topics.max.per.request); past
// it, unknown topics are answered LEADER_NOT_AVAILABLE, which clients retry,
// so a request naming thousands of new topics creates them a bounded batch
// at a time rather than pinning the controller with one request.
func (s *Server) requestedTopic(ctx context.Context, req *wire.Request, st *raftmeta.State, r *kmsg.MetadataRequest, rt kmsg.MetadataRequestTopic, creates *int) (mt kmsg.MetadataResponseTopic, created bool) {
	var t *raftmeta.Topic
	switch {
	case rt.Topic != nil:
		t = st.Topics[*rt.Topic]
	case rt.TopicID != [16]byte{}:
		if t = st.TopicsByID[rt.TopicID]; t == nil {
			mt = kmsg.NewMetadataResponseTopic()
			mt.TopicID = rt.TopicID
			mt.ErrorCode = kerr.UnknownTopicID.Code
			return mt, false
		}
	}
	if t != nil {
		if !s.authorize(req, acl.OpDescribe, acl.ResourceTopic, t.Name) {
			return topicDenied(rt.Topic, rt.TopicID), false
		}
		return s.topicMetadata(st, t, r), false
	}
	mt = kmsg.NewMetadataResponseTopic()
	if rt.Topic == nil {
		mt.ErrorCode = kerr.InvalidRequest.Code
		return mt, false
	}
	name := *rt.Topic
	mt.Topic = &name
	if !s.authorize(req, acl.OpDescribe, acl.ResourceTopic, name) {
		return topicDenied(&name, [16]byte{}), false
	}
	if err := validateTopicName(name); err != nil {
		mt.ErrorCode = kerr.InvalidTopicException.Code
		return mt, false
	}
	if allowAuto := r.Version < 4 || r.AllowAutoTopicCreation; !allowAuto || !s.cfg.AutoCreateTopics {
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return mt, false
	}
	if *creates <= 0 {
		mt.ErrorCode = kerr.LeaderNotAvailable.Code
		return mt, false
	}
	if !s.authorizeCluster(req, acl.OpCreate) && !s.authorize(req, acl.OpCreate, acl.ResourceTopic, name) {
		return topicDenied(&name, [16]byte{}), false
	}
	*creates--
	nt, err := s.autoCreate(ctx, name)
	if err != nil {
		if code := errorCode(err); code != kerr.TopicAlreadyExists.Code {
			mt.ErrorCode = code
			return mt, false
		}
		nt = s.meta.State().Topics[name]
	}
	if nt == nil {
		mt.ErrorCode = kerr.LeaderNotAvailable.Code
		return mt, true
	}
	return s.topicMetadata(s.meta.State(), nt, r), true
}

// autoCreate creates a topic with the broker defaults and opens its local
// replicas so that the client's next request finds it ready.
func (s *Server) autoCreate(ctx context.Context, name string) (*raftmeta.Topic, error) {
	rf := s.cfg.DefaultReplicationFactor
	if n := int16(len(s.meta.State().Brokers)); rf > n {
		rf = n
	}
	t, err := s.meta.CreateTopic(ctx, raftmeta.TopicSpec{
		Name:              name,
		Partitions:        s.cfg.NumPartitions,
		ReplicationFactor: rf,
	}, false)
	if err != nil {
		return nil, err
	}
	s.logger.Info("auto-created topic", "topic", name, "partitions", s.cfg.NumPartitions, "replication_factor", rf)
	s.awaitLocal(ctx)
	return t, nil
}

func (s *Server) topicMetadata(st *raftmeta.State, t *raftmeta.Topic, _ *kmsg.MetadataRequest) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = t.Internal
	mt.AuthorizedOperations = -2147483648
	for _, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.Index
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = p.Replicas
		mp.ISR = p.ISR
		mp.OfflineReplicas = []int32{}
		for _, id := range p.Replicas {
			if b, ok := st.Brokers[id]; !ok || b.Fenced {
				mp.OfflineReplicas = append(mp.OfflineReplicas, id)
			}
		}
		if p.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

func sortedBrokers(st *raftmeta.State) []raftmeta.Broker {
	out := make([]raftmeta.Broker, 0, len(st.Brokers))
	for _, b := range st.Brokers {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// advertisedEndpoint is where a client on conn reaches broker b, as every
// answer naming brokers gives it (Metadata, KIP-951 leader hints): the
// address of b's listener for conn (listenerFor) and b's rack, if any.
func advertisedEndpoint(b raftmeta.Broker, conn *wire.ConnInfo) (host string, port int32, rack *string) {
	l := listenerFor(b, conn)
	if b.Rack != "" {
		r := b.Rack
		rack = &r
	}
	return l.Host, l.Port, rack
}

// listenerFor picks the broker endpoint a client on conn should use: the one
// with the same listener name as the connection, else the first.
func listenerFor(b raftmeta.Broker, conn *wire.ConnInfo) raftmeta.Listener {
	if conn != nil {
		for _, l := range b.Listeners {
			if l.Name == conn.Listener {
				return l
			}
		}
	}
	if len(b.Listeners) > 0 {
		return b.Listeners[0]
	}
	return raftmeta.Listener{}
}
