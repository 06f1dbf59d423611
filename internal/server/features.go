package server

// Feature levels (KIP-584): the registry of the features this broker
// implements, and the finalized levels the cluster runs at.
//
// A feature's finalized level lives in the metadata log
// (raftmeta.State.Features), set by UpdateFeatures (updatefeatures.go).
// Until one is set the level is the feature's default: the newest level
// this broker implements, except transaction.version, whose default is the
// transaction.version config (so existing deployments keep their setting
// until an operator finalizes a level). ApiVersions v3+ lists the
// supported ranges and the finalized levels; clients act on them (franz-go
// uses transaction version 2 only when transaction.version is finalized at
// 2 or more).

import (
	"fmt"
	"slices"

	"github.com/strombroker/strom/raftmeta"
)

// Feature names, as Kafka spells them.
const (
	featureMetadata    = "metadata.version"
	featureKRaft       = "kraft.version"
	featureTransaction = "transaction.version"
	featureGroup       = "group.version"
	featureShare       = "share.version"
)

// Metadata versions (Kafka's MetadataVersion feature levels). Strom's
// metadata log is not Kafka's, so the level only says which Kafka release
// the brokers behave as: 4.1-IV1, the newest 4.1 level, because the APIs
// and features served are those of Kafka 4.1.
const (
	metadataVersion33IV3 = 7  // the oldest level Kafka 4 still accepts
	metadataVersion40IV0 = 22 // group.version 1 needs it
	metadataVersion40IV2 = 24 // transaction.version 1 and 2 need it
	metadataVersion41IV0 = 26 // share.version 1 needs it
	metadataVersion41IV1 = 27
)

// Feature maximum levels this broker implements: group.version 1 is the
// KIP-848 consumer group protocol, share.version 1 share groups (KIP-932);
// both are finalized at 1 unless an operator downgrades them, which turns
// the protocol's heartbeat APIs off (UNSUPPORTED_VERSION), as in Kafka.
const (
	groupVersionMax = 1
	shareVersionMax = 1
)

// featureSpec is one feature this broker implements.
type featureSpec struct {
	name     string
	min, max int16 // the levels this broker supports
	// dflt is the level in effect while none was finalized.
	dflt func(cfg *Config) int16
	// needs are the minimum levels of other features required from level
	// 1 on (Kafka's FeatureVersion.dependencies), by level.
	needs func(level int16) map[string]int16
	// fixed features cannot be changed by UpdateFeatures.
	fixed string
	// downgradeLosesData: a downgrade would drop metadata, so Kafka
	// refuses it even as UNSAFE (metadata.version).
	downgradeLosesData bool
}

func constLevel(l int16) func(*Config) int16 { return func(*Config) int16 { return l } }

func noNeeds(int16) map[string]int16 { return nil }

// featureRegistry lists the features in the order ApiVersions shows them.
var featureRegistry = []featureSpec{
	{name: featureMetadata, min: metadataVersion33IV3, max: metadataVersion41IV1, dflt: constLevel(metadataVersion41IV1),
		needs: noNeeds, downgradeLosesData: true},
	{name: featureKRaft, min: 0, max: 1, dflt: constLevel(1), needs: noNeeds,
		fixed: "kraft.version is fixed at 1: the metadata quorum is a Raft group whose voters change at run time"},
	{name: featureTransaction, min: 0, max: 2, dflt: func(c *Config) int16 { return c.TransactionVersion },
		needs: func(int16) map[string]int16 { return map[string]int16{featureMetadata: metadataVersion40IV2} }},
	{name: featureGroup, min: 0, max: groupVersionMax, dflt: constLevel(groupVersionMax),
		needs: func(int16) map[string]int16 { return map[string]int16{featureMetadata: metadataVersion40IV0} }},
	{name: featureShare, min: 0, max: shareVersionMax, dflt: constLevel(shareVersionMax),
		needs: func(int16) map[string]int16 { return map[string]int16{featureMetadata: metadataVersion41IV0} }},
}

// featureByName returns the registry entry of name.
func featureByName(name string) (featureSpec, bool) {
	i := slices.IndexFunc(featureRegistry, func(f featureSpec) bool { return f.name == name })
	if i < 0 {
		return featureSpec{}, false
	}
	return featureRegistry[i], true
}

// finalizedFeatures are the levels in effect in st, every registered
// feature included (0 for a disabled one).
func (s *Server) finalizedFeatures(st *raftmeta.State) map[string]int16 {
	out := make(map[string]int16, len(featureRegistry))
	for _, f := range featureRegistry {
		out[f.name] = f.dflt(&s.cfg)
		if st != nil {
			if l, ok := st.FeatureLevel(f.name); ok {
				out[f.name] = l
			}
		}
	}
	return out
}

// featureLevel is the level of one feature in effect now.
func (s *Server) featureLevel(name string) int16 {
	return s.finalizedFeatures(s.metaState())[name]
}

// metaState is the current metadata, nil before the node exists.
func (s *Server) metaState() *raftmeta.State {
	if s.meta == nil {
		return nil
	}
	return s.meta.State()
}

// featuresEpoch is the finalized features epoch ApiVersions reports: the
// number of feature changes, so it grows with every UpdateFeatures.
func featuresEpoch(st *raftmeta.State) int64 {
	if st == nil {
		return 0
	}
	return st.FeaturesEpoch
}

// Kafka's FeatureUpdate.UpgradeType values.
const (
	upgradeTypeUpgrade         = 1
	upgradeTypeSafeDowngrade   = 2
	upgradeTypeUnsafeDowngrade = 3
)

// checkFeatureUpdate is Kafka's FeatureControlManager.updateFeature check
// of one change against the current levels and the levels proposed
// (current plus every update of the request); "" when allowed.
func checkFeatureUpdate(name string, level int16, upgradeType int8, cur, proposed map[string]int16) string {
	f, ok := featureByName(name)
	switch {
	case upgradeType < upgradeTypeUpgrade || upgradeType > upgradeTypeUnsafeDowngrade:
		return "The controller does not support the given upgrade type."
	case level < 0:
		return "A feature version cannot be less than 0."
	case !ok:
		return fmt.Sprintf("The controller does not support %s.", name)
	case level < f.min || level > f.max:
		return fmt.Sprintf("The brokers only support levels %d-%d of %s.", f.min, f.max, name)
	}
	c := cur[name]
	switch {
	case level < c && upgradeType == upgradeTypeUpgrade:
		return "Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade."
	case level > c && upgradeType != upgradeTypeUpgrade:
		return "Can't downgrade to a newer version."
	case f.fixed != "" && level != c:
		return f.fixed
	case f.downgradeLosesData && level < c && upgradeType == upgradeTypeUnsafeDowngrade:
		return "Unsafe metadata downgrade is not supported in this version."
	case f.downgradeLosesData && level < c:
		return "Refusing to perform the requested downgrade because it might delete metadata information."
	}
	if level >= 1 {
		for dep, min := range f.needs(level) {
			if proposed[dep] < min {
				return fmt.Sprintf("%s could not be set to %d because it depends on %s level %d", name, level, dep, min)
			}
		}
	}
	// A lower level of a feature others depend on must still satisfy them.
	for _, other := range featureRegistry {
		if l := proposed[other.name]; l >= 1 && other.name != name {
			if min, ok := other.needs(l)[name]; ok && level < min {
				return fmt.Sprintf("%s could not be set to %d because %s level %d depends on %s level %d", name, level, other.name, l, name, min)
			}
		}
	}
	return ""
}
