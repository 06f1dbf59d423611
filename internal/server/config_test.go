package server

import (
	"strings"
	"testing"
)

func TestSecurityProtocolMap(t *testing.T) {
	m, err := ParseSecurityProtocolMap("internal:ssl, EXTERNAL:SASL_SSL,ADMIN:PLAINTEXT")
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.ListenerSecurityProtocols = m
	for name, want := range map[string]string{
		"INTERNAL":       "SSL",
		"EXTERNAL":       "SASL_SSL",
		"ADMIN":          "PLAINTEXT",
		"SASL_PLAINTEXT": "SASL_PLAINTEXT", // named after a protocol: has it
		"SSL":            "SSL",
		"REPLICATION":    "PLAINTEXT", // unmapped: Strom's open default
	} {
		if got := c.SecurityProtocol(name); got != want {
			t.Errorf("SecurityProtocol(%s) = %s, want %s", name, got, want)
		}
	}
	for _, bad := range []string{"A:TLS", "A", ":SSL", "A:SSL,A:PLAINTEXT"} {
		if _, err := ParseSecurityProtocolMap(bad); err == nil || !strings.Contains(err.Error(), "listener.security.protocol.map") {
			t.Errorf("ParseSecurityProtocolMap(%q) err = %v, want a listener.security.protocol.map error", bad, err)
		}
	}
}

// TestRaftSecurityProtocolValidated: raft.security.protocol=SSL needs a
// keystore and a truststore (peers are always verified); other values are
// refused by name.
func TestRaftSecurityProtocolValidated(t *testing.T) {
	c := DefaultConfig()
	c.RaftSecurityProtocol = "SSL"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "raft.security.protocol=SSL") {
		t.Fatalf("SSL without a truststore: %v", err)
	}
	c.SSL.TruststoreCertificates = "x"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "keystore") {
		t.Fatalf("SSL without a keystore: %v", err)
	}
	c.RaftSecurityProtocol = "TLS"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "want PLAINTEXT or SSL") {
		t.Fatalf("raft.security.protocol=TLS: %v", err)
	}
}
