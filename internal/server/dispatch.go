package server

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/group"
	"github.com/strombroker/strom/wire"
)

// serverVersions are the keys the server implements itself: every key and
// version here is implemented in full. Versions that identify topics by ID
// only where we would ignore it are left out. The group coordinator's keys
// come from group.Versions, the list of what that package implements.
var serverVersions = map[int16]wire.VersionRange{
	0:  {Min: 3, Max: 13}, // Produce: v3+ carries record batch v2; v12 adds partitions to transactions itself (KIP-890 part 2); v13 topic ids (KIP-516)
	1:  {Min: 4, Max: 18}, // Fetch: v4+ returns record batch v2; v13+ topic ids are resolved; v17 directory ids; v18 follower high watermarks (KIP-1166)
	2:  {Min: 0, Max: 10}, // ListOffsets: -1 latest, -2 earliest, -3 max timestamp, -4 earliest local, -5 latest tiered; v10 TimeoutMillis
	3:  {Min: 0, Max: 13}, // Metadata: v13 top-level ErrorCode (KIP-1102)
	10: {Min: 0, Max: 6},  // FindCoordinator: v6 key type 2, share-state coordinators
	76: {Min: 1, Max: 1},  // ShareGroupHeartbeat (share groups, KIP-932; v0 was Kafka 4.0's early access)
	77: {Min: 1, Max: 1},  // ShareGroupDescribe
	78: {Min: 1, Max: 1},  // ShareFetch: v2 (Kafka 4.2 acquire modes, renew acks) not offered
	79: {Min: 1, Max: 1},  // ShareAcknowledge
	83: {Min: 0, Max: 0},  // InitializeShareGroupState: broker to broker (share.go)
	84: {Min: 0, Max: 0},  // ReadShareGroupState
	85: {Min: 0, Max: 0},  // WriteShareGroupState: v1 DeliveryCompleteCount not offered
	86: {Min: 0, Max: 0},  // DeleteShareGroupState
	87: {Min: 0, Max: 0},  // ReadShareGroupStateSummary
	90: {Min: 0, Max: 0},  // DescribeShareGroupOffsets: v1 Lag not offered
	91: {Min: 0, Max: 0},  // AlterShareGroupOffsets
	92: {Min: 0, Max: 0},  // DeleteShareGroupOffsets
	18: {Min: 0, Max: 4},  // ApiVersions
	19: {Min: 0, Max: 7},  // CreateTopics
	20: {Min: 0, Max: 6},  // DeleteTopics
	21: {Min: 0, Max: 2},  // DeleteRecords
	22: {Min: 0, Max: 5},  // InitProducerId: v5 only adds TRANSACTION_ABORTABLE
	23: {Min: 0, Max: 4},  // OffsetForLeaderEpoch
	32: {Min: 0, Max: 4},  // DescribeConfigs
	33: {Min: 0, Max: 2},  // AlterConfigs
	37: {Min: 0, Max: 3},  // CreatePartitions
	44: {Min: 0, Max: 1},  // IncrementalAlterConfigs
	55: {Min: 0, Max: 2},  // DescribeQuorum: the Raft metadata log as KRaft's __cluster_metadata
	60: {Min: 0, Max: 2},  // DescribeCluster: v2 can include fenced brokers
	29: {Min: 0, Max: 3},  // DescribeAcls
	30: {Min: 0, Max: 3},  // CreateAcls
	31: {Min: 0, Max: 3},  // DeleteAcls
	17: {Min: 0, Max: 1},  // SaslHandshake: v0 (raw tokens) for kafka-python 2.0.2 and librdkafka < 2.10 (saslhandshake.go)
	36: {Min: 0, Max: 2},  // SaslAuthenticate
	50: {Min: 0, Max: 0},  // DescribeUserScramCredentials
	51: {Min: 0, Max: 0},  // AlterUserScramCredentials
	24: {Min: 0, Max: 5},  // AddPartitionsToTxn: v4 batches transactions and verifies (KIP-890); v5 only adds TRANSACTION_ABORTABLE
	25: {Min: 0, Max: 4},  // AddOffsetsToTxn: v4 only adds TRANSACTION_ABORTABLE
	26: {Min: 0, Max: 5},  // EndTxn: v5 bumps the epoch per transaction (transaction version 2)
	27: {Min: 0, Max: 1},  // WriteTxnMarkers
	61: {Min: 0, Max: 0},  // DescribeProducers
	65: {Min: 0, Max: 0},  // DescribeTransactions
	66: {Min: 0, Max: 2},  // ListTransactions
	43: {Min: 0, Max: 2},  // ElectLeaders
	45: {Min: 0, Max: 1},  // AlterPartitionReassignments: v1 AllowReplicationFactorChange
	46: {Min: 0, Max: 0},  // ListPartitionReassignments
	35: {Min: 0, Max: 4},  // DescribeLogDirs: v5 cordoned dirs not advertised
	75: {Min: 0, Max: 0},  // DescribeTopicPartitions: cursor pagination; no ELR yet
	48: {Min: 0, Max: 1},  // DescribeClientQuotas (clientquotas.go)
	49: {Min: 0, Max: 1},  // AlterClientQuotas
	34: {Min: 0, Max: 2},  // AlterReplicaLogDirs: one data dir per broker (alterreplicalogdirs.go)
	64: {Min: 0, Max: 0},  // UnregisterBroker: fenced brokers only (unregisterbroker.go)
	80: {Min: 0, Max: 0},  // AddRaftVoter: promotes an observer of the Raft group (KIP-853)
	81: {Min: 0, Max: 0},  // RemoveRaftVoter: demotes a voter to observer
	57: {Min: 0, Max: 2},  // UpdateFeatures (updatefeatures.go, features.go)
	71: {Min: 0, Max: 0},  // GetTelemetrySubscriptions (telemetry_handlers.go)
	72: {Min: 0, Max: 0},  // PushTelemetry
	74: {Min: 0, Max: 1},  // ListConfigResources (listconfigresources.go): v0 client metrics only
	38: {Min: 0, Max: 3},  // CreateDelegationToken (delegationtokens.go): v3 owner
	39: {Min: 0, Max: 2},  // RenewDelegationToken
	40: {Min: 0, Max: 2},  // ExpireDelegationToken
	41: {Min: 0, Max: 3},  // DescribeDelegationToken: v3 requester
}

// versionTable is the one table behind both ApiVersions and the version check
// in wire: serverVersions plus the group coordinator's group.Versions.
var versionTable = mergeVersions(serverVersions, group.Versions)

// mergeVersions is own ∪ groups; a key in both keeps own's range (the
// version-table test reports such overlaps).
func mergeVersions(own map[int16]wire.VersionRange, groups map[int16][2]int16) map[int16]wire.VersionRange {
	t := make(map[int16]wire.VersionRange, len(own)+len(groups))
	for k, v := range groups {
		t[k] = wire.VersionRange{Min: v[0], Max: v[1]}
	}
	for k, v := range own {
		t[k] = v
	}
	return t
}

func apiVersions() map[int16]wire.VersionRange { return versionTable }

// ServeKafka implements wire.Handler: one call per request, in order per
// connection. It measures the request's handling time for
// request_percentage (quota.go), as Kafka measures the time a request
// spends on its request threads.
func (s *Server) ServeKafka(ctx context.Context, req *wire.Request) (kmsg.Response, error) {
	if s.cfg.principalHook != nil {
		s.cfg.principalHook(req) // tests only (Config.principalHook)
	}
	start := time.Now()
	resp, err := s.route(ctx, req, start)
	if err == nil {
		s.throttleRequest(req, resp, start) // quota.go
	}
	return resp, err
}

// route dispatches a request: Produce, Fetch and the group APIs here, the
// rest in serveAdmin.
func (s *Server) route(ctx context.Context, req *wire.Request, start time.Time) (kmsg.Response, error) {
	switch r := req.Body.(type) {
	case *kmsg.JoinGroupRequest:
		return s.handleJoinGroup(ctx, req, r), nil
	case *kmsg.ApiVersionsRequest:
		return s.handleApiVersions(req, r), nil
	case *kmsg.MetadataRequest:
		return s.handleMetadata(ctx, req, r), nil
	case *kmsg.ProduceRequest:
		return s.handleProduce(ctx, req, r, start)
	case *kmsg.FetchRequest:
		return s.handleFetch(ctx, req, r, start), nil
	case *kmsg.ListOffsetsRequest:
		return s.handleListOffsets(ctx, req, r), nil
	case *kmsg.FindCoordinatorRequest:
		return s.handleFindCoordinator(ctx, req, r), nil
	case *kmsg.InitProducerIDRequest:
		return s.handleInitProducerID(ctx, req, r), nil
	case *kmsg.SyncGroupRequest:
		return s.handleSyncGroup(ctx, req, r), nil
	case *kmsg.HeartbeatRequest:
		return s.handleHeartbeat(ctx, req, r), nil
	case *kmsg.LeaveGroupRequest:
		return s.handleLeaveGroup(ctx, req, r), nil
	case *kmsg.OffsetCommitRequest:
		return s.handleOffsetCommit(ctx, req, r), nil
	case *kmsg.OffsetFetchRequest:
		return s.handleOffsetFetch(ctx, req, r), nil
	case *kmsg.ListGroupsRequest:
		return s.handleListGroups(ctx, req, r), nil
	case *kmsg.DescribeGroupsRequest:
		return s.handleDescribeGroups(ctx, req, r), nil
	case *kmsg.DeleteGroupsRequest:
		return s.handleDeleteGroups(ctx, req, r), nil
	case *kmsg.OffsetDeleteRequest:
		return s.handleOffsetDelete(ctx, req, r), nil
	case *kmsg.ConsumerGroupHeartbeatRequest:
		return s.handleConsumerGroupHeartbeat(ctx, req, r), nil
	case *kmsg.ConsumerGroupDescribeRequest:
		return s.handleConsumerGroupDescribe(ctx, req, r), nil
	case *kmsg.ShareGroupHeartbeatRequest:
		return s.handleShareGroupHeartbeat(ctx, req, r), nil
	case *kmsg.ShareGroupDescribeRequest:
		return s.handleShareGroupDescribe(ctx, req, r), nil
	case *kmsg.ShareFetchRequest:
		return s.handleShareFetch(ctx, req, r), nil
	case *kmsg.ShareAcknowledgeRequest:
		return s.handleShareAcknowledge(ctx, req, r), nil
	default:
		return s.serveShareAdmin(ctx, req)
	}
}

// serveShareAdmin serves the share-group offset APIs and the share
// coordinator's broker-to-broker APIs, then the administrative rest.
func (s *Server) serveShareAdmin(ctx context.Context, req *wire.Request) (kmsg.Response, error) {
	switch r := req.Body.(type) {
	case *kmsg.DescribeShareGroupOffsetsRequest:
		return s.handleDescribeShareGroupOffsets(ctx, req, r), nil
	case *kmsg.AlterShareGroupOffsetsRequest:
		return s.handleAlterShareGroupOffsets(ctx, req, r), nil
	case *kmsg.DeleteShareGroupOffsetsRequest:
		return s.handleDeleteShareGroupOffsets(ctx, req, r), nil
	case *kmsg.InitializeShareGroupStateRequest:
		return s.handleInitializeShareGroupState(ctx, req, r), nil
	case *kmsg.ReadShareGroupStateRequest:
		return s.handleReadShareGroupState(ctx, req, r), nil
	case *kmsg.WriteShareGroupStateRequest:
		return s.handleWriteShareGroupState(ctx, req, r), nil
	case *kmsg.DeleteShareGroupStateRequest:
		return s.handleDeleteShareGroupState(ctx, req, r), nil
	case *kmsg.ReadShareGroupStateSummaryRequest:
		return s.handleReadShareGroupStateSummary(ctx, req, r), nil
	default:
		return s.serveAdmin(ctx, req)
	}
}

// serveAdmin serves the administrative and security APIs: topics,
// configs, cluster and quorum descriptions, ACLs, SASL and SCRAM users.
func (s *Server) serveAdmin(ctx context.Context, req *wire.Request) (kmsg.Response, error) {
	switch r := req.Body.(type) {
	case *kmsg.CreateTopicsRequest:
		return s.handleCreateTopics(ctx, req, r), nil
	case *kmsg.DeleteTopicsRequest:
		return s.handleDeleteTopics(ctx, req, r), nil
	case *kmsg.CreatePartitionsRequest:
		return s.handleCreatePartitions(ctx, req, r), nil
	case *kmsg.DescribeConfigsRequest:
		return s.handleDescribeConfigs(req, r), nil
	case *kmsg.AlterConfigsRequest:
		return s.handleAlterConfigs(ctx, req, r), nil
	case *kmsg.IncrementalAlterConfigsRequest:
		return s.handleIncrementalAlterConfigs(ctx, req, r), nil
	case *kmsg.DescribeClusterRequest:
		return s.handleDescribeCluster(req, r), nil
	case *kmsg.DescribeQuorumRequest:
		return s.handleDescribeQuorum(req, r), nil
	case *kmsg.OffsetForLeaderEpochRequest:
		return s.handleOffsetForLeaderEpoch(ctx, req, r), nil
	case *kmsg.DeleteRecordsRequest:
		return s.handleDeleteRecords(req, r), nil
	case *kmsg.DescribeACLsRequest:
		return s.handleDescribeACLs(req, r), nil
	case *kmsg.CreateACLsRequest:
		return s.handleCreateACLs(ctx, req, r), nil
	case *kmsg.DeleteACLsRequest:
		return s.handleDeleteACLs(ctx, req, r), nil
	case *kmsg.SASLHandshakeRequest:
		return s.handleSASLHandshake(req, r), nil
	case *kmsg.SASLAuthenticateRequest:
		return s.handleSASLAuthenticate(req, r), nil
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		return s.handleDescribeUserScramCredentials(req, r), nil
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		return s.handleAlterUserScramCredentials(ctx, req, r), nil
	case *kmsg.ElectLeadersRequest:
		return s.handleElectLeaders(ctx, req, r), nil
	case *kmsg.AlterPartitionAssignmentsRequest:
		return s.handleAlterPartitionReassignments(ctx, req, r), nil
	case *kmsg.ListPartitionReassignmentsRequest:
		return s.handleListPartitionReassignments(req, r), nil
	case *kmsg.DescribeLogDirsRequest:
		return s.handleDescribeLogDirs(req, r), nil
	case *kmsg.DescribeTopicPartitionsRequest:
		return s.handleDescribeTopicPartitions(req, r), nil
	case *kmsg.DescribeClientQuotasRequest:
		return s.handleDescribeClientQuotas(req, r), nil
	case *kmsg.AlterClientQuotasRequest:
		return s.handleAlterClientQuotas(ctx, req, r), nil
	case *kmsg.AlterReplicaLogDirsRequest:
		return s.handleAlterReplicaLogDirs(req, r), nil
	case *kmsg.UnregisterBrokerRequest:
		return s.handleUnregisterBroker(ctx, req, r), nil
	case *kmsg.AddRaftVoterRequest:
		return s.handleAddRaftVoter(ctx, req, r), nil
	case *kmsg.RemoveRaftVoterRequest:
		return s.handleRemoveRaftVoter(ctx, req, r), nil
	default:
		return s.serveTxn(ctx, req)
	}
}

// serveTxn serves the transaction APIs.
func (s *Server) serveTxn(ctx context.Context, req *wire.Request) (kmsg.Response, error) {
	switch r := req.Body.(type) {
	case *kmsg.AddPartitionsToTxnRequest:
		return s.handleAddPartitionsToTxn(ctx, req, r), nil
	case *kmsg.AddOffsetsToTxnRequest:
		return s.handleAddOffsetsToTxn(ctx, req, r), nil
	case *kmsg.EndTxnRequest:
		return s.handleEndTxn(ctx, req, r), nil
	case *kmsg.TxnOffsetCommitRequest:
		return s.handleTxnOffsetCommit(ctx, req, r), nil
	case *kmsg.WriteTxnMarkersRequest:
		return s.handleWriteTxnMarkers(ctx, req, r), nil
	case *kmsg.DescribeTransactionsRequest:
		return s.handleDescribeTransactions(ctx, req, r), nil
	case *kmsg.ListTransactionsRequest:
		return s.handleListTransactions(req, r), nil
	case *kmsg.DescribeProducersRequest:
		return s.handleDescribeProducers(req, r), nil
	default:
		return s.serveFeatures(ctx, req)
	}
}

// serveFeatures serves feature levels, client telemetry, config resource
// listing and delegation tokens.
func (s *Server) serveFeatures(ctx context.Context, req *wire.Request) (kmsg.Response, error) {
	switch r := req.Body.(type) {
	case *kmsg.UpdateFeaturesRequest:
		return s.handleUpdateFeatures(ctx, req, r), nil
	case *kmsg.GetTelemetrySubscriptionsRequest:
		return s.handleGetTelemetrySubscriptions(req, r), nil
	case *kmsg.PushTelemetryRequest:
		return s.handlePushTelemetry(req, r), nil
	case *kmsg.ListConfigResourcesRequest:
		return s.handleListConfigResources(req, r), nil
	case *kmsg.CreateDelegationTokenRequest:
		return s.handleCreateDelegationToken(ctx, req, r), nil
	case *kmsg.RenewDelegationTokenRequest:
		return s.handleRenewDelegationToken(ctx, req, r), nil
	case *kmsg.ExpireDelegationTokenRequest:
		return s.handleExpireDelegationToken(ctx, req, r), nil
	case *kmsg.DescribeDelegationTokenRequest:
		return s.handleDescribeDelegationToken(req, r), nil
	default:
		// wire only passes keys from versionTable, so this is a bug.
		return nil, fmt.Errorf("no handler for api key %d (%s)", req.Key, kmsg.NameForKey(req.Key))
	}
}

// hostOnly strips the port from host:port.
func hostOnly(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
