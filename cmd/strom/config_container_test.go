package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestLoadConfigContainerEnv is the configuration docker-compose.yml gives
// each broker, entirely through STROM_* variables.
func TestLoadConfigContainerEnv(t *testing.T) {
	e := env{
		"STROM_NODE_ID":               "2",
		"STROM_DATA_DIR":              "/data",
		"STROM_LISTEN":                "INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:29092",
		"STROM_ADVERTISE":             "INTERNAL://broker-2:9092,EXTERNAL://localhost:29092",
		"STROM_INTER_BROKER_LISTENER": "internal",
		"STROM_RAFT_ADDR":             "0.0.0.0:9093",
		"STROM_RAFT_ADVERTISE":        "broker-2:9093",
		"STROM_GOSSIP_ADDR":           "0.0.0.0:9094",
		"STROM_GOSSIP_ADVERTISE":      "broker-2:9094",
		"STROM_JOIN":                  "broker-1:9094,broker-2:9094,broker-3:9094",
		"STROM_BOOTSTRAP_EXPECT":      "3",
	}
	cfg, _, _ := load(t, nil, e)
	if cfg.NodeID != 2 || cfg.DataDir != "/data" || cfg.BootstrapExpect != 3 || len(cfg.Join) != 3 {
		t.Fatalf("cfg = %+v", cfg)
	}
	if cfg.InterBrokerListenerName != "INTERNAL" {
		t.Fatalf("InterBrokerListenerName = %q, want INTERNAL (names are upper-cased like listeners)", cfg.InterBrokerListenerName)
	}
	if cfg.RaftAdvertise != "broker-2:9093" || cfg.GossipAdvertise != "broker-2:9094" {
		t.Fatalf("RaftAdvertise = %q, GossipAdvertise = %q", cfg.RaftAdvertise, cfg.GossipAdvertise)
	}

	props := writeProps(t, "raft.advertise=b:1\ngossip.advertise=b:2\ninter.broker.listener.name=PLAINTEXT\n")
	cfg, _, stderr := load(t, []string{"--config", props}, env{})
	if cfg.RaftAdvertise != "b:1" || cfg.GossipAdvertise != "b:2" || cfg.InterBrokerListenerName != "PLAINTEXT" || stderr != "" {
		t.Fatalf("from properties: %q %q %q (stderr %q)", cfg.RaftAdvertise, cfg.GossipAdvertise, cfg.InterBrokerListenerName, stderr)
	}
	cfg, _, _ = load(t, []string{"--raft-advertise", "c:3", "--gossip-advertise", "c:4"}, env{"STROM_RAFT_ADVERTISE": "x:1"})
	if cfg.RaftAdvertise != "c:3" || cfg.GossipAdvertise != "c:4" {
		t.Fatalf("flags over env: %q %q", cfg.RaftAdvertise, cfg.GossipAdvertise)
	}
}

func TestLoadConfigUnknownInterBrokerListener(t *testing.T) {
	var stderr bytes.Buffer
	_, _, err := loadConfig([]string{"--listen", "INTERNAL://127.0.0.1:0", "--inter-broker-listener", "REPLICATION"}, env{}.get, &stderr)
	if err == nil || !strings.Contains(err.Error(), "inter.broker.listener.name") {
		t.Fatalf("err = %v, want inter.broker.listener.name refused", err)
	}
}
