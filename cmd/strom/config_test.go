package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/server"
	"github.com/strombroker/strom/storage"
)

// env is a fake environment for loadConfig.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// writeProps writes a server.properties file into a temp dir.
func writeProps(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// load runs loadConfig and fails the test on error; it returns stderr too.
func load(t *testing.T, args []string, e env) (server.Config, string, string) {
	t.Helper()
	var stderr bytes.Buffer
	cfg, level, err := loadConfig(args, e.get, &stderr)
	if err != nil {
		t.Fatalf("loadConfig(%q): %v (stderr %q)", args, err, stderr.String())
	}
	return cfg, level, stderr.String()
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, level, stderr := load(t, nil, env{})
	if want := server.DefaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Fatalf("no flags:\n got %+v\nwant %+v", cfg, want)
	}
	if level != "info" {
		t.Fatalf("log level %q, want info", level)
	}
	if stderr != "" {
		t.Fatalf("unexpected output: %q", stderr)
	}
	// The defaults README promises.
	if cfg.NodeID != 1 || server.FormatListeners(cfg.Listeners) != "PLAINTEXT://127.0.0.1:9092" || cfg.DataDir != "./data" {
		t.Fatalf("defaults: node %d listeners %s data %s", cfg.NodeID, server.FormatListeners(cfg.Listeners), cfg.DataDir)
	}
}

func TestLoadConfigPropertiesFile(t *testing.T) {
	path := writeProps(t, `# Kafka-style server.properties
! bang comments too
broker.id=3
listeners=PLAINTEXT://0.0.0.0:19092
advertised.listeners=PLAINTEXT://kafka-1.example:19092
log.dirs=/var/lib/strom/a, /var/lib/strom/b
log.retention.hours=48
log.fsync=always
num.partitions : 4
message.max.bytes=\
    2000000
zookeeper.connect=localhost:2181
`)
	cfg, _, stderr := load(t, []string{"--config", path}, env{})
	if cfg.NodeID != 3 {
		t.Errorf("broker.id: node id %d, want 3", cfg.NodeID)
	}
	if got := server.FormatListeners(cfg.Listeners); got != "PLAINTEXT://0.0.0.0:19092" {
		t.Errorf("listeners = %s", got)
	}
	if got := server.FormatListeners(cfg.AdvertisedListeners); got != "PLAINTEXT://kafka-1.example:19092" {
		t.Errorf("advertised.listeners = %s", got)
	}
	if cfg.DataDir != "/var/lib/strom/a" {
		t.Errorf("log.dirs: data dir %q, want the first entry", cfg.DataDir)
	}
	if cfg.Log.RetentionMs != 48*time.Hour {
		t.Errorf("log.retention.hours: %v", cfg.Log.RetentionMs)
	}
	if cfg.Log.Fsync != storage.FsyncAlways {
		t.Errorf("log.fsync: %q", cfg.Log.Fsync)
	}
	if cfg.NumPartitions != 4 {
		t.Errorf("key : value syntax: num.partitions %d", cfg.NumPartitions)
	}
	if cfg.MessageMaxBytes != 2000000 || cfg.Log.MaxMessageBytes != 2000000 {
		t.Errorf("continued line: message.max.bytes %d / log %d", cfg.MessageMaxBytes, cfg.Log.MaxMessageBytes)
	}
	if !strings.Contains(stderr, "zookeeper.connect") || !strings.Contains(stderr, "ignored") {
		t.Errorf("no warning for the unknown key; stderr %q", stderr)
	}
	if strings.Contains(stderr, "broker.id") || strings.Contains(stderr, "log.dirs") {
		t.Errorf("warned about a known key: %q", stderr)
	}
	// Everything not in the file keeps its default.
	def := server.DefaultConfig()
	if cfg.RaftAddr != def.RaftAddr || cfg.MinInsyncReplicas != def.MinInsyncReplicas || cfg.Log.SegmentBytes != def.Log.SegmentBytes {
		t.Errorf("unset keys changed: raft %s min isr %d segment %d", cfg.RaftAddr, cfg.MinInsyncReplicas, cfg.Log.SegmentBytes)
	}
}

func TestLoadConfigPropertiesKeys(t *testing.T) {
	tests := []struct {
		props string
		check func(c server.Config) bool
	}{
		{"node.id=7", func(c server.Config) bool { return c.NodeID == 7 }},
		{"log.dir=/data/x", func(c server.Config) bool { return c.DataDir == "/data/x" }},
		{"log.retention.ms=-1", func(c server.Config) bool { return c.Log.RetentionMs == -1 }},
		{"log.retention.minutes=90", func(c server.Config) bool { return c.Log.RetentionMs == 90*time.Minute }},
		{"log.retention.bytes=1048576", func(c server.Config) bool { return c.Log.RetentionBytes == 1<<20 }},
		{"log.segment.bytes=65536", func(c server.Config) bool { return c.Log.SegmentBytes == 65536 }},
		{"log.roll.hours=2", func(c server.Config) bool { return c.Log.SegmentMs == 2*time.Hour }},
		{"log.flush.interval.ms=250", func(c server.Config) bool { return c.Log.FlushInterval == 250*time.Millisecond }},
		{"log.fsync=never", func(c server.Config) bool { return c.Log.Fsync == storage.FsyncNever }},
		{"auto.create.topics.enable=false", func(c server.Config) bool { return !c.AutoCreateTopics }},
		{"min.insync.replicas=2", func(c server.Config) bool { return c.MinInsyncReplicas == 2 }},
		{"default.replication.factor=3", func(c server.Config) bool { return c.DefaultReplicationFactor == 3 }},
		{"broker.rack=eu-1a", func(c server.Config) bool { return c.Rack == "eu-1a" }},
		{"join=10.0.0.1:9094, ,10.0.0.2:9094", func(c server.Config) bool {
			return reflect.DeepEqual(c.Join, []string{"10.0.0.1:9094", "10.0.0.2:9094"})
		}},
		{"bootstrap.expect=3", func(c server.Config) bool { return c.BootstrapExpect == 3 }},
		{"offsets.topic.num.partitions=10", func(c server.Config) bool { return c.OffsetsTopicPartitions == 10 }},
		{"group.initial.rebalance.delay.ms=0", func(c server.Config) bool { return c.GroupInitialRebalanceDelay == 0 }},
		{"socket.request.max.bytes=2048", func(c server.Config) bool { return c.SocketRequestMaxBytes == 2048 }},
		{"fetch.max.bytes=1048576", func(c server.Config) bool { return c.FetchMaxBytes == 1<<20 }},
		{"max.connections=1000", func(c server.Config) bool { return c.MaxConnections == 1000 }},
		{"max.incremental.fetch.session.cache.slots=0", func(c server.Config) bool { return c.FetchSessionCacheSlots == 0 }},
		{"max.connections.per.ip=50", func(c server.Config) bool { return c.MaxConnectionsPerIP == 50 }},
		{"connections.max.idle.ms=200", func(c server.Config) bool { return c.ConnectionsMaxIdle == 200*time.Millisecond }},
		{"connections.max.idle.ms=-1", func(c server.Config) bool { return c.ConnectionsMaxIdle < 0 }},
		{"socket.write.timeout.ms=5000", func(c server.Config) bool { return c.SocketWriteTimeout == 5*time.Second }},
		{"auto.create.topics.max.per.request=5", func(c server.Config) bool { return c.AutoCreateTopicsMaxPerRequest == 5 }},
		{"group.max.size=10", func(c server.Config) bool { return c.GroupMaxSize == 10 }},
		// Listener names are case-insensitive and kept with their name.
		{"listeners=client://127.0.0.1:9092,internal://127.0.0.1:9095", func(c server.Config) bool {
			return server.FormatListeners(c.Listeners) == "CLIENT://127.0.0.1:9092,INTERNAL://127.0.0.1:9095"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.props, func(t *testing.T) {
			cfg, _, stderr := load(t, []string{"--config", writeProps(t, tc.props+"\n")}, env{})
			if !tc.check(cfg) {
				t.Fatalf("%s not applied: %+v", tc.props, cfg)
			}
			if stderr != "" {
				t.Fatalf("unexpected warning: %q", stderr)
			}
		})
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	path := writeProps(t, "num.partitions=2\nnode.id=2\nlog.fsync=never\n")
	tests := []struct {
		name     string
		args     []string
		env      env
		wantN    int32
		wantNode int32
	}{
		{"defaults", nil, env{}, 1, 1},
		{"properties over defaults", []string{"--config", path}, env{}, 2, 2},
		{"config file from env", nil, env{"STROM_CONFIG": path}, 2, 2},
		{"env over properties", []string{"--config", path}, env{"STROM_NUM_PARTITIONS": "3"}, 3, 2},
		{"flag over env", []string{"--config", path, "--num-partitions", "4"}, env{"STROM_NUM_PARTITIONS": "3", "STROM_NODE_ID": "5"}, 4, 5},
		{"flag over properties", []string{"--config", path, "--node-id=6"}, env{}, 2, 6},
		{"--config flag over STROM_CONFIG", []string{"--config", path}, env{"STROM_CONFIG": "/does/not/exist"}, 2, 2},
		{"empty env var is unset", []string{"--config", path}, env{"STROM_NUM_PARTITIONS": ""}, 2, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, _ := load(t, tc.args, tc.env)
			if cfg.NumPartitions != tc.wantN || cfg.NodeID != tc.wantNode {
				t.Fatalf("num.partitions %d node.id %d, want %d and %d", cfg.NumPartitions, cfg.NodeID, tc.wantN, tc.wantNode)
			}
		})
	}

	// Log level: default < env < flag.
	if _, level, _ := load(t, nil, env{"STROM_LOG_LEVEL": "debug"}); level != "debug" {
		t.Fatalf("STROM_LOG_LEVEL: %q", level)
	}
	if _, level, _ := load(t, []string{"--log-level", "warn"}, env{"STROM_LOG_LEVEL": "debug"}); level != "warn" {
		t.Fatalf("--log-level over env: %q", level)
	}
	// A flag overrides an env var even when the two use different units.
	cfg, _, _ := load(t, []string{"--log-retention-ms", "1500"}, env{"STROM_LOG_RETENTION_HOURS": "1"})
	if cfg.Log.RetentionMs != 1500*time.Millisecond {
		t.Fatalf("retention: %v", cfg.Log.RetentionMs)
	}
}

func TestLoadConfigNamedListenerAdvertise(t *testing.T) {
	// A bare --advertise names the only listener, whatever its name.
	cfg, _, _ := load(t, []string{"--listen", "CLIENT://0.0.0.0:9092", "--advertise", "broker-1.example:9092"}, env{})
	if got := server.FormatListeners(cfg.AdvertisedListeners); got != "CLIENT://broker-1.example:9092" {
		t.Fatalf("advertised %s, want CLIENT://broker-1.example:9092", got)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.properties")
	tests := []struct {
		name string
		args []string
		env  env
		want []string // substrings the error must contain
	}{
		{"bad flag value", []string{"--node-id", "abc"}, env{}, []string{"--node-id", "abc"}},
		{"bad env value", nil, env{"STROM_NUM_PARTITIONS": "many"}, []string{"STROM_NUM_PARTITIONS", "many"}},
		{"bad property value", []string{"--config", writeProps(t, "min.insync.replicas=two\n")}, env{}, []string{"min.insync.replicas", "two", "server.properties"}},
		{"bad bool", []string{"--auto-create-topics", "maybe"}, env{}, []string{"--auto-create-topics"}},
		{"bad duration", nil, env{"STROM_LOG_RETENTION_HOURS": "1h"}, []string{"STROM_LOG_RETENTION_HOURS"}},
		{"bad listener", []string{"--listen", "localhost"}, env{}, []string{"--listen", "localhost"}},
		{"bad listener port", []string{"--listen", "127.0.0.1:99999"}, env{}, []string{"--listen", "99999"}},
		{"node id out of int32", []string{"--node-id", "4294967296"}, env{}, []string{"--node-id"}},
		{"negative node id", []string{"--node-id", "-1"}, env{}, []string{"node.id"}},
		{"zero partitions", []string{"--num-partitions", "0"}, env{}, []string{"num.partitions"}},
		{"zero min isr", nil, env{"STROM_MIN_INSYNC_REPLICAS": "0"}, []string{"min.insync.replicas"}},
		{"unknown fsync", []string{"--log-fsync", "sometimes"}, env{}, []string{"log.fsync", "sometimes"}},
		{"tiny segments", []string{"--log-segment-bytes", "10"}, env{}, []string{"log.segment.bytes"}},
		{"empty data dir", []string{"--data-dir", ""}, env{}, []string{"log.dirs"}},
		{"missing config file", []string{"--config", missing}, env{}, []string{"--config", "nope.properties"}},
		{"malformed properties line", []string{"--config", writeProps(t, "# ok\nnot a pair\n")}, env{}, []string{"line 2"}},
		{"positional argument", []string{"extra"}, env{}, []string{`"extra"`}},
		{"unknown flag", []string{"--no-such-flag"}, env{}, []string{"no-such-flag"}},
		{"advertise 0.0.0.0", []string{"--advertise", "0.0.0.0:9092"}, env{}, []string{"advertised.listeners", "0.0.0.0"}},
		{"advertise :: in properties", []string{"--config", writeProps(t, "advertised.listeners=PLAINTEXT://[::]:9092\n")}, env{}, []string{"advertised.listeners"}},
		{"advertise without port", []string{"--advertise", "host:0"}, env{}, []string{"advertised.listeners", "port"}},
		{"advertise unknown listener name", []string{"--listen", "A://127.0.0.1:1,B://127.0.0.1:2", "--advertise", "C://h:1"}, env{}, []string{"advertised.listeners", "C://"}},
		{"duplicate listener names", []string{"--listen", "A://127.0.0.1:1,a://127.0.0.1:2"}, env{}, []string{"listeners", "used twice"}},
		{"cluster key not base64", nil, env{"STROM_CLUSTER_KEYS": "not base64!"}, []string{"STROM_CLUSTER_KEYS", "base64"}},
		{"cluster key of 8 bytes", []string{"--cluster-keys", "AAAAAAAAAAA="}, env{}, []string{"--cluster-keys", "8 bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			_, _, err := loadConfig(tc.args, tc.env.get, &stderr)
			if err == nil {
				t.Fatalf("loadConfig(%q) accepted", tc.args)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestLoadConfigClusterKeys: cluster.keys decodes base64 keys in
// order (the first encrypts) from a properties file, the env or a flag.
func TestLoadConfigClusterKeys(t *testing.T) {
	k1 := strings.Repeat("A", 43) + "=" // 32 zero bytes
	k2 := "AQEBAQEBAQEBAQEBAQEBAQ=="    // 16 bytes of 1
	cfg, _, _ := load(t, []string{"--config", writeProps(t, "cluster.keys="+k1+", "+k2+"\n")}, env{})
	if len(cfg.ClusterKeys) != 2 || len(cfg.ClusterKeys[0]) != 32 || !bytes.Equal(cfg.ClusterKeys[1], bytes.Repeat([]byte{1}, 16)) {
		t.Fatalf("keys from properties: %v", cfg.ClusterKeys)
	}
	cfg, _, _ = load(t, nil, env{"STROM_CLUSTER_KEYS": k2})
	if len(cfg.ClusterKeys) != 1 || len(cfg.ClusterKeys[0]) != 16 {
		t.Fatalf("keys from env: %v", cfg.ClusterKeys)
	}
	if cfg, _, _ = load(t, nil, env{}); cfg.ClusterKeys != nil {
		t.Fatalf("keys by default: %v", cfg.ClusterKeys)
	}
}

func TestLoadConfigHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		var stderr bytes.Buffer
		_, _, err := loadConfig([]string{arg}, env{}.get, &stderr)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s: err %v, want flag.ErrHelp", arg, err)
		}
		out := stderr.String()
		for _, want := range []string{"Usage: strom broker", "-node-id", "STROM_NODE_ID", "node.id/broker.id", "-config"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: usage lacks %q", arg, want)
			}
		}
	}
}

func TestEnvNames(t *testing.T) {
	seenEnv := map[string]bool{}
	seenKey := map[string]bool{}
	for _, s := range settings {
		e := envName(s.flag)
		if seenEnv[e] {
			t.Errorf("env var %s used twice", e)
		}
		seenEnv[e] = true
		for _, k := range s.keys {
			if seenKey[k] {
				t.Errorf("properties key %s used twice", k)
			}
			seenKey[k] = true
		}
	}
	if got := envName("log-retention-ms"); got != "STROM_LOG_RETENTION_MS" {
		t.Fatalf("envName = %s", got)
	}
}

func TestReadProperties(t *testing.T) {
	got, err := readProperties(strings.NewReader("a=1\n  b : two words \n# c=3\n!d=4\n\ne=x=y\nf=\\\n  g\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1", "b": "two words", "e": "x=y", "f": "g"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("readProperties = %v, want %v", got, want)
	}
}

// Kafka's finest unit wins whatever the order: log.retention.ms over
// .minutes over .hours (the stock server.properties sets .hours).
func TestLoadConfigRetentionUnitPrecedence(t *testing.T) {
	path := writeProps(t, "log.retention.ms=1000\nlog.retention.hours=168\nlog.roll.ms=5000\nlog.roll.hours=1\n")
	cfg, _, _ := load(t, []string{"--config", path}, env{})
	if cfg.Log.RetentionMs != time.Second || cfg.Log.SegmentMs != 5*time.Second {
		t.Fatalf("properties: retention %v roll %v, want 1s and 5s", cfg.Log.RetentionMs, cfg.Log.SegmentMs)
	}
	cfg, _, _ = load(t, nil, env{"STROM_LOG_RETENTION_MINUTES": "2", "STROM_LOG_RETENTION_HOURS": "5"})
	if cfg.Log.RetentionMs != 2*time.Minute {
		t.Fatalf("env: retention %v, want 2m", cfg.Log.RetentionMs)
	}
	cfg, _, _ = load(t, []string{"--log-retention-ms", "3000", "--log-retention-hours", "9"}, env{})
	if cfg.Log.RetentionMs != 3*time.Second {
		t.Fatalf("flags: retention %v, want 3s", cfg.Log.RetentionMs)
	}
}

// TestLoadConfigLimits checks the client limits' Kafka defaults and that
// each is reachable as a flag and an environment variable.
func TestLoadConfigLimits(t *testing.T) {
	cfg, _, _ := load(t, nil, env{})
	if cfg.FetchMaxBytes != 57671680 || cfg.MaxConnections != 2147483647 || cfg.MaxConnectionsPerIP != 2147483647 ||
		cfg.ConnectionsMaxIdle != 10*time.Minute || cfg.GroupMaxSize != 2147483647 || cfg.FetchSessionCacheSlots != 1000 {
		t.Fatalf("limit defaults differ from Kafka's: %+v", cfg)
	}
	cfg, _, _ = load(t, []string{"--max-connections", "7", "--group-max-size", "3"},
		env{"STROM_MAX_CONNECTIONS_PER_IP": "4", "STROM_FETCH_MAX_BYTES": "4096"})
	if cfg.MaxConnections != 7 || cfg.GroupMaxSize != 3 || cfg.MaxConnectionsPerIP != 4 || cfg.FetchMaxBytes != 4096 {
		t.Fatalf("flags/env not applied: %+v", cfg)
	}
	var stderr bytes.Buffer
	if _, _, err := loadConfig([]string{"--max-connections", "0"}, env{}.get, &stderr); err == nil {
		t.Fatal("max.connections=0 accepted")
	}
	if _, _, err := loadConfig([]string{"--max-incremental-fetch-session-cache-slots", "-1"}, env{}.get, &stderr); err == nil {
		t.Fatal("max.incremental.fetch.session.cache.slots=-1 accepted")
	}
}
