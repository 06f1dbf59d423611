package server

// ApiVersions (key 18), v0-v4.
//
// Lists exactly versionTable. Requests of a version we don't know never get
// here: wire answers them in the v0 format with UNSUPPORTED_VERSION (KIP-511)
// so clients retry lower. v3+ carries the client's software name/version,
// which we accept without validating (Kafka validates the characters only to
// report metrics). v3+ lists the features of featureRegistry (features.go)
// with the range this broker supports, and their finalized levels (level 0,
// a disabled feature, is not listed, as in Kafka) with the finalized
// features epoch. Below v4 a supported feature whose range starts at 0 is
// left out, as Kafka does (KAFKA-17492: older clients fail to parse a
// minimum of 0). Clients act on the finalized levels: at
// transaction.version 2 they use transaction version 2 (KIP-890 part 2: no
// AddPartitionsToTxn, an epoch bump per transaction), below it the classic
// protocol; group.version 1 turns on KIP-848 consumer groups and
// share.version 1 share groups (KIP-932), both finalized at 1 by default.

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

func (s *Server) handleApiVersions(req *wire.Request, r *kmsg.ApiVersionsRequest) kmsg.Response {
	if r.Version >= 3 && req.Conn != nil {
		req.Conn.SetClientSoftware(r.ClientSoftwareName, r.ClientSoftwareVersion) // client metrics selectors (telemetry.go)
	}
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
	if r.Version >= 3 {
		appendFeatures(resp, s.metaState(), s.finalizedFeatures(s.metaState()))
	}
	return resp
}

// appendFeatures fills the supported and finalized features of an
// ApiVersions v3+ answer.
func appendFeatures(resp *kmsg.ApiVersionsResponse, st *raftmeta.State, levels map[string]int16) {
	for _, f := range featureRegistry {
		if f.max == 0 || (resp.Version < 4 && f.min == 0) {
			continue
		}
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = f.name, f.min, f.max
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
	}
	for _, f := range featureRegistry {
		if l := levels[f.name]; l > 0 {
			ff := kmsg.NewApiVersionsResponseFinalizedFeature()
			ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = f.name, l, l
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		}
	}
	resp.FinalizedFeaturesEpoch = featuresEpoch(st)
}
