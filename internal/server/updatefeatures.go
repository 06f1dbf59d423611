package server

// UpdateFeatures (57): versions 0-2, as Kafka's KRaft controller.
//
// Behaviour:
//   - Needs ALTER on the cluster: CLUSTER_AUTHORIZATION_FAILED otherwise.
//   - All or nothing: every update is checked against the finalized levels
//     (features.go, checkFeatureUpdate) and the first refusal answers
//     INVALID_UPDATE_VERSION for the whole request, nothing changed. An
//     upgrade needs upgrade type UPGRADE; a lower level SAFE_DOWNGRADE or
//     UNSAFE_DOWNGRADE; metadata.version is never downgraded (Kafka refuses
//     a downgrade that may lose metadata, and unsafe ones entirely);
//     kraft.version is fixed. Levels must lie in the range the brokers
//     support and satisfy the features' dependencies (transaction.version
//     1+ needs metadata.version 4.0-IV2, ...). A feature named twice is
//     INVALID_REQUEST. Level 0 disables a feature.
//   - The new levels go through the metadata log, so every broker's
//     ApiVersions lists them once applied there; the epoch grows by one
//     per change. A change racing another is re-checked against the newer
//     levels.
//
// Version notes:
//   - v0: AllowDowngrade true means SAFE_DOWNGRADE, false UPGRADE.
//   - v1: UpgradeType and ValidateOnly (check, change nothing).
//   - v2: no per-feature results, only the top-level error.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/internal/acl"
	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// updateFeaturesRetries bounds re-checks after losing a race with another
// UpdateFeatures.
const updateFeaturesRetries = 5

func (s *Server) handleUpdateFeatures(ctx context.Context, req *wire.Request, r *kmsg.UpdateFeaturesRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.UpdateFeaturesResponse)
	resp.Version = r.Version
	code, msg := s.updateFeatures(ctx, req, r)
	resp.ErrorCode, resp.ErrorMessage = code, msg
	if r.Version <= 1 {
		for _, u := range r.FeatureUpdates {
			res := kmsg.NewUpdateFeaturesResponseResult()
			res.Feature, res.ErrorCode, res.ErrorMessage = u.Feature, code, msg
			resp.Results = append(resp.Results, res)
		}
	}
	return resp
}

// updateFeatures checks and applies the request; the error code and
// message of the answer.
func (s *Server) updateFeatures(ctx context.Context, req *wire.Request, r *kmsg.UpdateFeaturesRequest) (int16, *string) {
	if !s.authorizeCluster(req, acl.OpAlter) {
		return kerr.ClusterAuthorizationFailed.Code, nil
	}
	levels := make(map[string]int16, len(r.FeatureUpdates))
	types := make(map[string]int8, len(r.FeatureUpdates))
	for _, u := range r.FeatureUpdates {
		if _, dup := levels[u.Feature]; dup {
			return kerr.InvalidRequest.Code, kmsg.StringPtr("Duplicate feature update for " + u.Feature)
		}
		levels[u.Feature], types[u.Feature] = u.MaxVersionLevel, u.UpgradeType
		if r.Version == 0 {
			types[u.Feature] = upgradeTypeUpgrade
			if u.AllowDowngrade {
				types[u.Feature] = upgradeTypeSafeDowngrade
			}
		}
	}
	if len(levels) == 0 {
		return 0, nil
	}
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	if timeout <= 0 || timeout > time.Minute {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for range updateFeaturesRetries {
		st := s.meta.State()
		cur := s.finalizedFeatures(st)
		proposed := maps.Clone(cur)
		maps.Copy(proposed, levels)
		for name, l := range levels {
			if why := checkFeatureUpdate(name, l, types[name], cur, proposed); why != "" {
				return kerr.InvalidUpdateVersion.Code, kmsg.StringPtr(fmt.Sprintf("Invalid update version %d for feature %s. %s", l, name, why))
			}
		}
		err := s.meta.UpdateFeatures(ctx, levels, st.FeaturesEpoch, r.ValidateOnly)
		if !errors.Is(err, raftmeta.ErrStaleFeatures) {
			if err != nil {
				s.logger.Warn("update features", "levels", levels, "err", err)
			} else if !r.ValidateOnly {
				s.logger.Info("finalized feature levels", "levels", levels)
			}
			return errorCode(err), errorMessage(err)
		}
	}
	return kerr.RequestTimedOut.Code, kmsg.StringPtr("feature levels kept changing concurrently")
}
