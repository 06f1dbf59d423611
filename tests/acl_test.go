package tests

import (
	"slices"
	"testing"
	"time"
)

// TestInteropACLKafkaPython: on a broker with the standard authorizer (and
// allow.everyone.if.no.acl.found, so the PLAINTEXT principal
// User:ANONYMOUS can manage ACLs while the cluster resource has none),
// `strom acl add` for another principal closes topic "guarded": kafka-python
// (User:ANONYMOUS) is refused; after `strom acl add` for User:ANONYMOUS it
// produces and consumes, and its first record is at offset 0, so the denied
// one was never written. kafka-python 2.0.2's producer does not raise
// TopicAuthorizationFailedError for the broker's Metadata answer
// (TOPIC_AUTHORIZATION_FAILED; the exact codes are checked with franz-go in
// internal/server): it asks again until max_block_ms and raises
// KafkaTimeoutError, so either counts.
func TestInteropACLKafkaPython(t *testing.T) {
	requireTool(t, "python:kafka")
	b := startBroker(t, "--authorizer-class-name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"--allow-everyone-if-no-acl-found", "true")
	createTopic(t, b.Addr(), "guarded", 1, nil)
	strom := func(args ...string) {
		t.Helper()
		runTool(t, 30*time.Second, nil, stromBin, append(args, "--brokers", b.Addr())...)
	}
	strom("acl", "add", "--allow-principal", "User:owner", "--operation", "All", "--topic", "guarded")

	var res struct {
		Offset *int64   `json:"offset"`
		Values []string `json:"values"`
		Error  string   `json:"error"`
	}
	decodeJSON(t, runPython(t, 60*time.Second, "kafka_python_acl.py", "produce", b.Addr(), "guarded", "denied", "2000"), &res)
	if res.Error != "TopicAuthorizationFailedError" && res.Error != "KafkaTimeoutError" {
		t.Fatalf("kafka-python produce without ACLs: %+v, want TopicAuthorizationFailedError", res)
	}

	strom("acl", "add", "--allow-principal", "User:ANONYMOUS", "--operation", "Write", "--operation", "Read", "--topic", "guarded")
	res.Error = ""
	decodeJSON(t, runPython(t, 60*time.Second, "kafka_python_acl.py", "produce", b.Addr(), "guarded", "allowed"), &res)
	if res.Error != "" || res.Offset == nil || *res.Offset != 0 {
		t.Fatalf("kafka-python produce after strom acl add: %+v", res)
	}
	decodeJSON(t, runPython(t, 60*time.Second, "kafka_python_acl.py", "consume", b.Addr(), "guarded"), &res)
	if res.Error != "" || len(res.Values) != 1 || res.Values[0] != "allowed" {
		t.Fatalf("kafka-python consume after strom acl add: %+v", res)
	}
}

// TestInteropACLKafkaPythonAdmin: kafka-python's KafkaAdminClient (ACL APIs
// v1) creates literal and prefixed ACLs, describes with a MATCH filter and
// deletes by principal, on a broker whose PLAINTEXT principal
// User:ANONYMOUS is the super user.
func TestInteropACLKafkaPythonAdmin(t *testing.T) {
	requireTool(t, "python:kafka")
	b := startBroker(t, "--authorizer-class-name", "strom", "--super-users", "User:ANONYMOUS")
	var res struct {
		Created       int      `json:"created"`
		Failed        []string `json:"failed"`
		Described     []string `json:"described"`
		DescribeError string   `json:"describe_error"`
		Deleted       []string `json:"deleted"`
		Remaining     []string `json:"remaining"`
	}
	decodeJSON(t, runPython(t, 60*time.Second, "kafka_python_acl_admin.py", b.Addr()), &res)
	alice := []string{"User:alice ALLOW READ TOPIC:LITERAL:orders", "User:alice ALLOW WRITE TOPIC:PREFIXED:ord"}
	if res.Created != 3 || len(res.Failed) != 0 || res.DescribeError != "NoError" ||
		!slices.Equal(res.Described, alice) || !slices.Equal(res.Deleted, alice) ||
		!slices.Equal(res.Remaining, []string{"User:bob DENY READ GROUP:LITERAL:billing"}) {
		t.Fatalf("kafka-python ACL admin: %+v", res)
	}
}
