package server

// ApiVersions (key 18), v0-v4.
//
// Lists exactly versionTable. Requests of a version we don't know never get
// here: wire answers them in the v0 format with UNSUPPORTED_VERSION (KIP-511)
// so clients retry lower. v3+ carries the client's software name/version,
// which we accept without validating (Kafka validates the characters only to
// report metrics). v3+ lists the features: transaction.version (supported
// 0-2, finalized at the configured transaction.version): at 2, clients use
// transaction version 2 (KIP-890 part 2: no AddPartitionsToTxn, an epoch
// bump per transaction); group.version (supported 0-1, finalized 1, as a
// Kafka 4.0+ cluster): the consumer rebalance protocol of KIP-848
// (ConsumerGroupHeartbeat) is on.

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleApiVersions(r *kmsg.ApiVersionsRequest) kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = r.Version
	keys := make([]int, 0, len(versionTable))
	for k := range versionTable {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	for _, k := range keys {
		v := versionTable[int16(k)]
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{
			ApiKey:     int16(k),
			MinVersion: v.Min,
			MaxVersion: v.Max,
		})
	}
	if r.Version >= 3 && s.cfg.TransactionVersion > 0 {
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = "transaction.version", 0, 2
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = "transaction.version", s.cfg.TransactionVersion, s.cfg.TransactionVersion
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		resp.FinalizedFeaturesEpoch = 1
	}
	if r.Version >= 3 {
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = "group.version", 0, 1
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = "group.version", 1, 1
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		resp.FinalizedFeaturesEpoch = 1
	}
	return resp
}
