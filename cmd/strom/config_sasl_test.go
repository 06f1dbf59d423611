package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigSASL(t *testing.T) {
	path := writeProps(t, `listeners=PLAINTEXT://127.0.0.1:9092,CLIENTS://127.0.0.1:9095
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CLIENTS:SASL_PLAINTEXT
inter.broker.listener.name=CLIENTS
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.clients.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
listener.name.clients.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
  username="broker" password="broker-secret" user_broker="broker-secret" user_alice="a";
sasl.mechanism.inter.broker.protocol=PLAIN
connections.max.reauth.ms=60000
`)
	cfg, _, stderr := load(t, []string{"--config", path}, env{})
	if strings.Contains(stderr, "ignored") {
		t.Fatalf("SASL keys reported as unknown: %s", stderr)
	}
	if !slices.Equal(cfg.SASL.EnabledMechanisms, []string{"SCRAM-SHA-512"}) ||
		!slices.Equal(cfg.SASL.ListenerMechanisms["CLIENTS"], []string{"PLAIN", "SCRAM-SHA-256"}) {
		t.Fatalf("mechanisms %v %v", cfg.SASL.EnabledMechanisms, cfg.SASL.ListenerMechanisms)
	}
	if !strings.Contains(cfg.SASL.JAAS["CLIENTS/plain"], `user_alice="a"`) {
		t.Fatalf("JAAS %v", cfg.SASL.JAAS)
	}
	if cfg.SASL.MaxReauth != time.Minute || cfg.SASL.InterBrokerMechanism != "PLAIN" {
		t.Fatalf("reauth %v inter-broker %q", cfg.SASL.MaxReauth, cfg.SASL.InterBrokerMechanism)
	}
}

func TestLoadConfigSASLErrors(t *testing.T) {
	for name, props := range map[string]string{
		"bad jaas": "listener.name.x.plain.sasl.jaas.config=org.Foo required user_a=\"open\n",
		"gssapi":   "listeners=SASL_PLAINTEXT://127.0.0.1:0\nsasl.enabled.mechanisms=GSSAPI\nsasl.jaas.config=a.B required username=\"u\" password=\"p\";\n",
		"no creds": "listeners=SASL_PLAINTEXT://127.0.0.1:0\n",
		"reauth<0": "connections.max.reauth.ms=-1\n",
	} {
		var stderr strings.Builder
		if _, _, err := loadConfig([]string{"--config", writeProps(t, props)}, env{}.get, &stderr); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
}
