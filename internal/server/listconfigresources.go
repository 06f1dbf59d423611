package server

// ListConfigResources (74): versions 0-1 (v0 was ListClientMetricsResources).
//
// Behaviour:
//   - Needs DESCRIBE_CONFIGS on the cluster: CLUSTER_AUTHORIZATION_FAILED
//     otherwise, as Kafka.
//   - v0 lists the CLIENT_METRICS resources (KIP-714 subscriptions).
//   - v1 lists the resources of the requested types, every supported type
//     when none is given: TOPIC (every topic), BROKER (every registered
//     broker id), CLIENT_METRICS (every subscription) and GROUP (groups
//     with dynamic configs: Strom has no group config resources, so none).
//     Any other type is UNSUPPORTED_VERSION for the whole request.
//   - Sorted by type, then name.

import (
	"maps"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// listableConfigTypes are the config resource types ListConfigResources v1
// lists, in answer order.
var listableConfigTypes = []kmsg.ConfigResourceType{
	kmsg.ConfigResourceTypeTopic, kmsg.ConfigResourceTypeBroker,
	kmsg.ConfigResourceTypeClientMetrics, kmsg.ConfigResourceTypeGroupConfig,
}

func (s *Server) handleListConfigResources(req *wire.Request, r *kmsg.ListConfigResourcesRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListConfigResourcesResponse)
	resp.Version = r.Version
	if !s.authorizeCluster(req, acl.OpDescribeConfigs) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	types := []kmsg.ConfigResourceType{kmsg.ConfigResourceTypeClientMetrics}
	if r.Version >= 1 {
		types = types[:0]
		for _, t := range r.ResourceTypes {
			if !slices.Contains(listableConfigTypes, kmsg.ConfigResourceType(t)) {
				resp.ErrorCode = kerr.UnsupportedVersion.Code
				return resp
			}
			if !slices.Contains(types, kmsg.ConfigResourceType(t)) {
				types = append(types, kmsg.ConfigResourceType(t))
			}
		}
		if len(types) == 0 {
			types = listableConfigTypes
		}
	}
	st := s.meta.State()
	for _, t := range listableConfigTypes {
		if !slices.Contains(types, t) {
			continue
		}
		for _, name := range configResourceNames(st, t) {
			cr := kmsg.NewListConfigResourcesResponseConfigResource()
			cr.Name, cr.Type = name, int8(t)
			resp.ConfigResources = append(resp.ConfigResources, cr)
		}
	}
	return resp
}

// configResourceNames lists the resources of one type, sorted.
func configResourceNames(st *raftmeta.State, t kmsg.ConfigResourceType) []string {
	switch t {
	case kmsg.ConfigResourceTypeTopic:
		return slices.Sorted(maps.Keys(st.Topics))
	case kmsg.ConfigResourceTypeBroker:
		var out []string
		for _, id := range st.BrokerIDs() {
			out = append(out, strconv.Itoa(int(id)))
		}
		return out
	case kmsg.ConfigResourceTypeClientMetrics:
		return slices.Sorted(maps.Keys(st.ClientMetrics))
	}
	return nil
}
