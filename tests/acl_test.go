package tests

import (
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
