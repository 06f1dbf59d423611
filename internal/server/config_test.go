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
