package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/strombroker/strom/internal/cluster"
	"github.com/strombroker/strom/internal/server"
)

// TestACLAddListRemove drives strom acl against a Strom broker with the
// standard authorizer, whose PLAINTEXT principal User:ANONYMOUS is the
// super user (Kafka's loopback admin listener): add ACLs, list them (text
// and JSON, filtered by principal and by MATCH), remove one.
func TestACLAddListRemove(t *testing.T) {
	c := cluster.New(t, 1, func(cfg *server.Config) {
		cfg.Authorizer = server.AuthorizerStandard
		cfg.SuperUsers = []string{"User:ANONYMOUS"}
	})
	brokers := strings.Join(c.Seeds(), ",")
	r := mustRun(t, brokers, "", "acl", "add", "--allow-principal", "User:alice", "--operation", "Read", "--operation", "Describe", "--topic", "orders")
	if strings.Count(r.stdout, "added ") != 2 || !strings.Contains(r.stdout, "User:alice allow READ:TOPIC:orders from host *") {
		t.Fatalf("add output:\n%s", r.stdout)
	}
	mustRun(t, brokers, "", "acl", "add", "--deny-principal", "User:bob", "--deny-host", "10.0.0.1", "--operation", "write", "--topic", "ord", "--resource-pattern-type", "prefixed")

	r = mustRun(t, brokers, "", "acl", "list", "--json")
	var lines []aclLine
	if err := json.Unmarshal([]byte(r.stdout), &lines); err != nil || len(lines) != 3 {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	r = mustRun(t, brokers, "", "acl", "list", "--principal", "User:bob")
	if !strings.Contains(r.stdout, "User:bob deny WRITE:TOPIC:ord* (prefixed) from host 10.0.0.1") || strings.Contains(r.stdout, "alice") {
		t.Fatalf("list --principal User:bob:\n%s", r.stdout)
	}
	r = mustRun(t, brokers, "", "acl", "list", "--topic", "orders", "--resource-pattern-type", "match")
	if strings.Count(r.stdout, "\n") != 3 {
		t.Fatalf("list MATCH orders, want all three:\n%s", r.stdout)
	}

	r = mustRun(t, brokers, "", "acl", "remove", "--topic", "orders", "--allow-principal", "User:alice", "--operation", "Read")
	if strings.Count(r.stdout, "removed ") != 1 {
		t.Fatalf("remove output:\n%s", r.stdout)
	}
	r = mustRun(t, brokers, "", "acl", "list", "--principal", "User:alice")
	if strings.Contains(r.stdout, "READ") || !strings.Contains(r.stdout, "DESCRIBE") {
		t.Fatalf("after remove:\n%s", r.stdout)
	}

	if r := run(t, brokers, "", "acl", "add", "--allow-principal", "alice", "--topic", "x"); r.code != exitUsage {
		t.Fatalf("principal without type: exit %d, %s", r.code, r.stderr)
	}
	if r := run(t, brokers, "", "acl", "remove", "--allow-principal", "User:alice"); r.code != exitUsage {
		t.Fatalf("remove without resource: exit %d, %s", r.code, r.stderr)
	}
}
