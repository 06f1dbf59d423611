package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestLoadConfigTLS: Kafka's ssl.* keys from a properties file, the
// per-listener listener.name.<name>.ssl.* overrides (taken, not warned
// about), and the env and flag forms.
func TestLoadConfigTLS(t *testing.T) {
	props := writeProps(t, `listeners=INTERNAL://127.0.0.1:9095,EXTERNAL://127.0.0.1:9096
listener.security.protocol.map=INTERNAL:SSL,EXTERNAL:SSL
inter.broker.listener.name=INTERNAL
ssl.keystore.type=PEM
ssl.keystore.location=/etc/strom/broker.pem
ssl.truststore.location=/etc/strom/ca.pem
ssl.client.auth=requested
ssl.principal.mapping.rules=RULE:^CN=(.*?),OU=.*$/$1/L,DEFAULT
ssl.enabled.protocols=TLSv1.3
listener.name.internal.ssl.client.auth=required
listener.name.external.ssl.keystore.location=/etc/strom/external.pem
ssl.reload.interval.ms=2000
`)
	cfg, _, stderr := load(t, []string{"--config", props}, env{"STROM_SSL_CIPHER_SUITES": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"})
	if stderr != "" {
		t.Fatalf("warnings: %s", stderr)
	}
	internal, external := cfg.ListenerTLS("INTERNAL"), cfg.ListenerTLS("EXTERNAL")
	if internal.ClientAuth != "required" || internal.KeystoreLocation != "/etc/strom/broker.pem" {
		t.Errorf("INTERNAL: %+v", internal)
	}
	if external.ClientAuth != "requested" || external.KeystoreLocation != "/etc/strom/external.pem" || external.TruststoreLocation != "/etc/strom/ca.pem" {
		t.Errorf("EXTERNAL: %+v", external)
	}
	if cfg.SSL.EnabledProtocols != "TLSv1.3" || cfg.SSL.CipherSuites == "" || cfg.TLSReloadInterval != 2*time.Second {
		t.Errorf("SSL %+v, reload %v", cfg.SSL, cfg.TLSReloadInterval)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "SSL://127.0.0.1:9095"}, "ssl.keystore.location"},
		{[]string{"--listen", "SSL://127.0.0.1:9095", "--ssl-keystore-type", "JKS", "--ssl-keystore-location", "k.jks"}, "PEM"},
		{[]string{"--listen", "SSL://127.0.0.1:9095", "--ssl-keystore-location", "k.pem", "--ssl-client-auth", "yes"}, "ssl.client.auth"},
	} {
		var errb bytes.Buffer
		if _, _, err := loadConfig(tc.args, env{}.get, &errb); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}
