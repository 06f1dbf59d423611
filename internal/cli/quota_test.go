package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/strombroker/strom/internal/cluster"
)

// TestQuotaSetListDelete drives strom quota against a broker: set a user
// quota and a default client-id quota, list them (all, filtered, JSON),
// delete one rate, then the whole entity, and refuse bad usage.
func TestQuotaSetListDelete(t *testing.T) {
	c := cluster.New(t, 1)
	brokers := strings.Join(c.Seeds(), ",")
	r := mustRun(t, brokers, "", "quota", "set", "--user", "alice", "--producer-byte-rate", "1048576", "--consumer-byte-rate", "2097152")
	if !strings.Contains(r.stdout, "{user=alice}: quotas set") {
		t.Fatalf("set output:\n%s", r.stdout)
	}
	mustRun(t, brokers, "", "quota", "set", "--default-client-id", "--request-percentage", "50")
	r = mustRun(t, brokers, "", "quota", "list")
	if !strings.Contains(r.stdout, "{user=alice} consumer_byte_rate=2.097152e+06 producer_byte_rate=1.048576e+06") || !strings.Contains(r.stdout, "{client-id=<default>} request_percentage=50") {
		t.Fatalf("list:\n%s", r.stdout)
	}
	r = mustRun(t, brokers, "", "quota", "list", "--default-client-id")
	if strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, "request_percentage") {
		t.Fatalf("list --default-client-id:\n%s", r.stdout)
	}
	mustRun(t, brokers, "", "quota", "delete", "--user", "alice", "--producer-byte-rate", "0")
	r = mustRun(t, brokers, "", "quota", "list", "--user", "alice", "--json")
	var lines []quotaLine
	if err := json.Unmarshal([]byte(r.stdout), &lines); err != nil || len(lines) != 1 || len(lines[0].Values) != 1 || lines[0].Values["consumer_byte_rate"] != 2097152 {
		t.Fatalf("list --json after deleting one rate: %v\n%s", err, r.stdout)
	}
	mustRun(t, brokers, "", "quota", "delete", "--user", "alice")
	if r := mustRun(t, brokers, "", "quota", "list", "--user", "alice"); r.stdout != "" {
		t.Fatalf("after delete:\n%s", r.stdout)
	}
	if r := run(t, brokers, "", "quota", "set", "--producer-byte-rate", "5"); r.code != exitUsage {
		t.Fatalf("set without entity: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, brokers, "", "quota", "set", "--user", "bob", "--producer-byte-rate", "1.5"); r.code == 0 || !strings.Contains(r.stderr, "Long") {
		t.Fatalf("fractional byte rate: exit %d %s", r.code, r.stderr)
	}
	mustRun(t, brokers, "", "quota", "set", "--ip", "10.1.2.3", "--connection-creation-rate", "5")
	mustRun(t, brokers, "", "quota", "set", "--default-ip", "--connection-creation-rate", "50")
	r = mustRun(t, brokers, "", "quota", "list", "--ip", "10.1.2.3")
	if strings.TrimSpace(r.stdout) != "{ip=10.1.2.3} connection_creation_rate=5" {
		t.Fatalf("list --ip:\n%s", r.stdout)
	}
	mustRun(t, brokers, "", "quota", "delete", "--ip", "10.1.2.3")
	if r := mustRun(t, brokers, "", "quota", "list", "--ip", "10.1.2.3"); r.stdout != "" {
		t.Fatalf("after deleting the ip quota:\n%s", r.stdout)
	}
	for _, bad := range [][]string{
		{"--ip", "10.1.2.3", "--user", "bob", "--connection-creation-rate", "5"},
		{"--ip", "10.1.2.3", "--producer-byte-rate", "5"},
		{"--user", "bob", "--connection-creation-rate", "5"},
	} {
		if r := run(t, brokers, "", append([]string{"quota", "set"}, bad...)...); r.code != exitUsage {
			t.Fatalf("quota set %v: exit %d %s", bad, r.code, r.stderr)
		}
	}
	if r := run(t, brokers, "", "quota", "set", "--ip", "not-an-ip", "--connection-creation-rate", "5"); r.code == 0 || !strings.Contains(r.stderr, "not a valid IP") {
		t.Fatalf("bad ip: exit %d %s", r.code, r.stderr)
	}
}
