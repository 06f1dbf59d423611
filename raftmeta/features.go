package raftmeta

import (
	"context"
	"fmt"
	"maps"
)

// Finalized feature levels (KIP-584, Kafka's FeatureLevelRecord):
// State.Features maps a feature name to the level an UpdateFeatures set it
// to, and State.FeaturesEpoch counts the changes. A name absent from the
// map has never been set: the server then uses its built-in default. Which
// features exist, their ranges and the upgrade/downgrade rules are the
// server's business (it knows what the brokers implement); this package
// stores levels, bounded, and refuses a change computed from an older
// epoch, so two racing UpdateFeatures cannot both win.

// maxFeatures bounds the number of finalized features.
const maxFeatures = 64

type updateFeaturesCmd struct {
	// Levels are the new levels; 0 is a level too (the feature is then
	// finalized as disabled, which is not the same as never set).
	Levels map[string]int16 `json:"levels"`
	// Epoch is the FeaturesEpoch the change was computed from.
	Epoch int64 `json:"epoch"`
}

func (c *updateFeaturesCmd) validate() error {
	if len(c.Levels) == 0 || len(c.Levels) > maxFeatures {
		return fmt.Errorf("%w: %d feature updates", ErrInvalidConfig, len(c.Levels))
	}
	for name, l := range c.Levels {
		if name == "" || len(name) > maxFieldLen || l < 0 {
			return fmt.Errorf("%w: feature %q level %d", ErrInvalidConfig, name, l)
		}
	}
	return nil
}

func (c *updateFeaturesCmd) apply(s *State) (*State, applyResult) {
	if c.Epoch != s.FeaturesEpoch {
		return nil, applyResult{err: fmt.Errorf("%w: features changed (epoch %d, the change was computed at %d)", ErrStaleFeatures, s.FeaturesEpoch, c.Epoch)}
	}
	nf := maps.Clone(s.Features)
	if nf == nil {
		nf = map[string]int16{}
	}
	maps.Copy(nf, c.Levels)
	if len(nf) > maxFeatures {
		return nil, applyResult{err: fmt.Errorf("%w: %d features, the limit is %d", ErrInvalidConfig, len(nf), maxFeatures)}
	}
	next := s.clone()
	next.Features = nf
	next.FeaturesEpoch = s.FeaturesEpoch + 1
	return next, applyResult{}
}

// FeatureLevel is the finalized level of a feature and whether one was
// ever set.
func (s *State) FeatureLevel(name string) (int16, bool) {
	l, ok := s.Features[name]
	return l, ok
}

// featuresSnapshot is the features part of a snapshot.
type featuresSnapshot struct {
	Levels map[string]int16 `json:"levels"`
	Epoch  int64            `json:"epoch"`
}

func encodeFeatures(s *State) *featuresSnapshot {
	if s.FeaturesEpoch == 0 && len(s.Features) == 0 {
		return nil
	}
	return &featuresSnapshot{Levels: s.Features, Epoch: s.FeaturesEpoch}
}

func decodeFeatures(s *State, f *featuresSnapshot) error {
	if f == nil {
		return nil
	}
	if f.Epoch < 0 || len(f.Levels) > maxFeatures {
		return fmt.Errorf("%w: snapshot features epoch %d, %d levels", ErrCorruptCommand, f.Epoch, len(f.Levels))
	}
	s.Features, s.FeaturesEpoch = f.Levels, f.Epoch
	return nil
}

type updateFeaturesArgs struct {
	Levels map[string]int16
	Epoch  int64
	// ValidateOnly runs the FSM's checks without proposing.
	ValidateOnly bool
}

var fwdUpdateFeatures = forwardMethod[updateFeaturesArgs, struct{}]{"UpdateFeatures", (*Node).updateFeaturesLocal}

// UpdateFeatures finalizes new feature levels, all or none, unless the
// features changed since epoch (the State.FeaturesEpoch the caller checked
// the change against): then it fails with ErrStaleFeatures and the caller
// re-checks against the newer state. Which levels are allowed is decided
// by the caller. It runs on the controller, forwarded there from any node.
func (n *Node) UpdateFeatures(ctx context.Context, levels map[string]int16, epoch int64, validateOnly bool) error {
	_, err := fwdUpdateFeatures.call(ctx, n, updateFeaturesArgs{Levels: levels, Epoch: epoch, ValidateOnly: validateOnly})
	return err
}

func (n *Node) updateFeaturesLocal(ctx context.Context, a updateFeaturesArgs) (struct{}, error) {
	if err := n.checkWritable(); err != nil {
		return struct{}{}, err
	}
	_, err := n.proposeChecked(ctx, n.fsm.current(), cmdUpdateFeatures, &updateFeaturesCmd{Levels: a.Levels, Epoch: a.Epoch}, a.ValidateOnly)
	return struct{}{}, err
}
