package cli

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// runFeature is `strom feature describe|upgrade|downgrade` (like
// kafka-features.sh): the finalized feature levels (KIP-584) as a broker's
// ApiVersions lists them, and UpdateFeatures to change them.
func runFeature(e *env, args []string) error {
	return subcommands(e, "feature", args, map[string]func(*env, []string) error{
		"describe":  featureDescribe,
		"upgrade":   func(e *env, a []string) error { return featureUpdate(e, "upgrade", a) },
		"downgrade": func(e *env, a []string) error { return featureUpdate(e, "downgrade", a) },
	})
}

// featureLine is one feature in `feature describe --json`.
type featureLine struct {
	Feature      string `json:"feature"`
	SupportedMin int16  `json:"supported_min_version"`
	SupportedMax int16  `json:"supported_max_version"`
	Finalized    int16  `json:"finalized_version_level"`
	Epoch        int64  `json:"epoch"`
}

// featureDescribe prints every feature a broker supports or has finalized,
// as kafka-features.sh describe does.
func featureDescribe(e *env, args []string) error {
	fs, o := newFlags(e, "feature describe", "feature describe", adminTimeout, "request timeout")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageErr("feature describe takes no arguments")
	}
	cl, _, err := o.client(e.ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := o.reqCtx(e.ctx)
	defer cancel()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "strom-cli", "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return o.wrap(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err
	}
	byName := map[string]*featureLine{}
	line := func(name string) *featureLine {
		if byName[name] == nil {
			byName[name] = &featureLine{Feature: name, Epoch: resp.FinalizedFeaturesEpoch}
		}
		return byName[name]
	}
	for _, f := range resp.SupportedFeatures {
		l := line(f.Name)
		l.SupportedMin, l.SupportedMax = f.MinVersion, f.MaxVersion
	}
	for _, f := range resp.FinalizedFeatures {
		line(f.Name).Finalized = f.MaxVersionLevel
	}
	out := []featureLine{}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, *byName[name])
	}
	if o.json {
		return writeJSON(e.stdout, out)
	}
	for _, l := range out {
		fmt.Fprintf(e.stdout, "Feature: %s\tSupportedMinVersion: %d\tSupportedMaxVersion: %d\tFinalizedVersionLevel: %d\tEpoch: %d\n",
			l.Feature, l.SupportedMin, l.SupportedMax, l.Finalized, l.Epoch)
	}
	return nil
}

// featureUpdate upgrades or downgrades the features given as
// --feature name=level (repeatable), all or none.
func featureUpdate(e *env, verb string, args []string) error {
	fs, o := newFlags(e, "feature "+verb, "feature "+verb+" --feature NAME=LEVEL [--feature ...] [--dry-run]"+map[string]string{"downgrade": " [--unsafe]"}[verb], adminTimeout, "request timeout")
	var feats stringList
	fs.Var(&feats, "feature", "NAME=LEVEL, repeatable")
	dry := fs.Bool("dry-run", false, "validate only, change nothing")
	unsafe := new(bool)
	if verb == "downgrade" {
		unsafe = fs.Bool("unsafe", false, "allow a downgrade that may lose metadata (UNSAFE_DOWNGRADE)")
	}
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || len(feats) == 0 {
		return usageErr("feature %s needs --feature NAME=LEVEL and no arguments", verb)
	}
	typ := int8(1) // UPGRADE
	if verb == "downgrade" {
		typ = 2 // SAFE_DOWNGRADE
		if *unsafe {
			typ = 3
		}
	}
	var updates []kadm.FeatureUpdate
	for _, f := range feats {
		name, lv, ok := strings.Cut(f, "=")
		l, err := strconv.ParseInt(lv, 10, 16)
		if !ok || name == "" || err != nil || l < 0 {
			return usageErr("--feature %q: want NAME=LEVEL with a level of 0 or more", f)
		}
		updates = append(updates, kadm.FeatureUpdate{Feature: name, MaxVersionLevel: int16(l), UpgradeType: typ})
	}
	adm, ctx, release, err := o.admin(e.ctx)
	if err != nil {
		return err
	}
	defer release()
	res, err := adm.UpdateFeatures(ctx, *dry, updates...)
	if err != nil {
		return o.wrap(err)
	}
	if err := res.Error(); err != nil {
		return err
	}
	for _, u := range updates {
		done := map[string]string{"upgrade": "upgraded", "downgrade": "downgraded"}[verb]
		if *dry {
			fmt.Fprintf(e.stdout, "%s can be %s to %d.\n", u.Feature, done, u.MaxVersionLevel)
		} else {
			fmt.Fprintf(e.stdout, "%s was %s to %d.\n", u.Feature, done, u.MaxVersionLevel)
		}
	}
	return nil
}
