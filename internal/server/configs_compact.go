package server

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/strombroker/strom/storage"
)

// Compaction config values (cleanup.policy and the log cleaner's topic
// configs; the cleaner itself is storage/cleaner*.go).

// parseCleanupPolicy reads a checked cleanup.policy list: compact, and
// keep-forever (no "delete": retention removes nothing).
func parseCleanupPolicy(v string) (compact, keepForever bool) {
	del := false
	for _, p := range strings.Split(v, ",") {
		switch strings.TrimSpace(p) {
		case "compact":
			compact = true
		case "delete":
			del = true
		}
	}
	return compact, compact && !del
}

// checkCleanupPolicy accepts Kafka's values: delete, compact, or both in
// either order.
func checkCleanupPolicy(v string) error {
	parts := strings.Split(v, ",")
	seen := map[string]bool{}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p != "compact" && p != "delete" {
			return fmt.Errorf("%q is not a cleanup policy (compact, delete or compact,delete)", p)
		}
		if seen[p] {
			return fmt.Errorf("%q listed twice", p)
		}
		seen[p] = true
	}
	return nil
}

// cleanupPolicyString is the cleanup.policy a log config implies.
func cleanupPolicyString(c storage.Config) string {
	switch {
	case c.Compact && c.KeepForever:
		return "compact"
	case c.Compact:
		return "compact,delete"
	default:
		return "delete"
	}
}

func checkRatio(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
		return fmt.Errorf("%q is not a ratio between 0 and 1", v)
	}
	return nil
}

// maxLagString shows max.compaction.lag.ms: Kafka's default is Long.MAX
// (no bound), which Strom stores as 0.
func maxLagString(d time.Duration) string {
	if d <= 0 {
		return strconv.FormatInt(math.MaxInt64, 10)
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

func maxLagDuration(v string) time.Duration {
	n := mustLong(v)
	if n <= 0 || n >= math.MaxInt64/int64(time.Millisecond) {
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// checkCompactionLags is Kafka's LogConfig.validateValues, run at
// CreateTopics and AlterConfigs (and at start for the broker defaults):
// the effective min.compaction.lag.ms (the topic's, else the broker's)
// must not exceed the effective max.compaction.lag.ms, or no segment could
// ever be both old enough and required to be cleaned.
func checkCompactionLags(cfgs map[string]string, brokerLog storage.Config) error {
	minLag := brokerLog.MinCompactionLag.Milliseconds()
	if v, ok := cfgs["min.compaction.lag.ms"]; ok {
		minLag = mustLong(v)
	}
	maxLag := int64(math.MaxInt64)
	if brokerLog.MaxCompactionLag > 0 {
		maxLag = brokerLog.MaxCompactionLag.Milliseconds()
	}
	if v, ok := cfgs["max.compaction.lag.ms"]; ok {
		maxLag = mustLong(v)
	}
	if minLag > maxLag {
		return fmt.Errorf("%w: conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", errInvalidConfig, minLag, maxLag)
	}
	return nil
}
