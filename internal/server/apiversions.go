package server

// ApiVersions (key 18), v0-v4.
//
// Lists exactly versionTable. Requests of a version we don't know never get
// here: wire answers them in the v0 format with UNSUPPORTED_VERSION (KIP-511)
// so clients retry lower. v3+ carries the client's software name/version,
// which we accept without validating (Kafka validates the characters only to
// report metrics). FinalizedFeatures/SupportedFeatures are left empty: Strom
// has no feature flags.

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
	return resp
}
