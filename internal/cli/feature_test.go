package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/strombroker/strom/internal/cluster"
)

// TestFeatureDescribeUpgradeDowngrade drives strom feature against a
// broker: describe, a dry run, a downgrade, an upgrade back, and refusals.
func TestFeatureDescribeUpgradeDowngrade(t *testing.T) {
	c := cluster.New(t, 1)
	brokers := strings.Join(c.Seeds(), ",")
	r := mustRun(t, brokers, "", "feature", "describe")
	if !strings.Contains(r.stdout, "Feature: transaction.version\tSupportedMinVersion: 0\tSupportedMaxVersion: 2\tFinalizedVersionLevel: 2\tEpoch: 0") ||
		!strings.Contains(r.stdout, "Feature: metadata.version") {
		t.Fatalf("describe:\n%s", r.stdout)
	}
	if r := mustRun(t, brokers, "", "feature", "downgrade", "--feature", "transaction.version=1", "--dry-run"); !strings.Contains(r.stdout, "can be downgraded to 1") {
		t.Fatalf("dry run:\n%s", r.stdout)
	}
	if r := mustRun(t, brokers, "", "feature", "downgrade", "--feature", "transaction.version=1"); !strings.Contains(r.stdout, "transaction.version was downgraded to 1.") {
		t.Fatalf("downgrade:\n%s", r.stdout)
	}
	r = mustRun(t, brokers, "", "feature", "describe", "--json")
	var lines []featureLine
	if err := json.Unmarshal([]byte(r.stdout), &lines); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if l.Feature == "transaction.version" && (l.Finalized != 1 || l.Epoch != 1) {
			t.Fatalf("after downgrade: %+v", l)
		}
	}
	if r := run(t, brokers, "", "feature", "upgrade", "--feature", "transaction.version=0"); r.code == 0 || !strings.Contains(r.stderr, "INVALID_UPDATE_VERSION") {
		t.Fatalf("upgrade to a lower level: exit %d %s", r.code, r.stderr)
	}
	mustRun(t, brokers, "", "feature", "upgrade", "--feature", "transaction.version=2")
	if r := run(t, brokers, "", "feature", "upgrade", "--feature", "transaction.version=3"); r.code == 0 || !strings.Contains(r.stderr, "INVALID_UPDATE_VERSION") {
		t.Fatalf("beyond supported: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, brokers, "", "feature", "upgrade", "--feature", "x"); r.code != exitUsage {
		t.Fatalf("bad --feature: exit %d %s", r.code, r.stderr)
	}
}
