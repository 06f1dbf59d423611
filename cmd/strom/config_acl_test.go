package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/strombroker/strom/internal/server"
)

// TestLoadConfigAuthorizer: Kafka's authorizer class names turn ACLs on,
// super.users splits on semicolons (commas belong to certificate
// subjects), and an unknown class or a principal without a type is refused.
func TestLoadConfigAuthorizer(t *testing.T) {
	for _, class := range []string{"org.apache.kafka.metadata.authorizer.StandardAuthorizer", "kafka.security.authorizer.AclAuthorizer", "strom"} {
		props := "authorizer.class.name=" + class + "\nsuper.users=User:admin;User:CN=broker1,O=acme\nallow.everyone.if.no.acl.found=true\n"
		cfg, _, _ := load(t, []string{"--config", writeProps(t, props)}, env{})
		if cfg.Authorizer != server.AuthorizerStandard || !cfg.AllowEveryoneIfNoACLFound ||
			!slices.Equal(cfg.SuperUsers, []string{"User:admin", "User:CN=broker1,O=acme"}) {
			t.Fatalf("%s: authorizer %q super users %q allow everyone %v", class, cfg.Authorizer, cfg.SuperUsers, cfg.AllowEveryoneIfNoACLFound)
		}
	}
	if cfg, _, _ := load(t, nil, env{}); cfg.Authorizer != "" || cfg.SuperUsers != nil {
		t.Fatalf("defaults: authorizer %q super users %q", cfg.Authorizer, cfg.SuperUsers)
	}
	for _, bad := range [][]string{
		{"--authorizer-class-name", "com.example.MyAuthorizer"},
		{"--super-users", "admin"},
	} {
		var stderr bytes.Buffer
		_, _, err := loadConfig(bad, env{}.get, &stderr)
		if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(bad[0], "--")) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
