package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/strombroker/strom/internal/ordinal"
)

// fakeHostname makes os.Hostname answer name (or fail with err) for one test.
// The tests in this package do not run in parallel, so swapping the package
// variable is safe.
func fakeHostname(t *testing.T, name string, err error) {
	t.Helper()
	prev := hostname
	hostname = func() (string, error) { return name, err }
	t.Cleanup(func() { hostname = prev })
}

func TestNodeIDOrdinalFromEnv(t *testing.T) {
	for host, want := range map[string]int32{
		"strom-0": 0,
		"strom-2": 2,
		"strom-2.strom-headless.kafka.svc.cluster.local": 2,
		"prod-brokers-11": 11,
	} {
		fakeHostname(t, host, nil)
		cfg, _, _ := load(t, nil, env{"STROM_NODE_ID": "ordinal"})
		if cfg.NodeID != want {
			t.Errorf("hostname %q: NodeID = %d, want %d", host, cfg.NodeID, want)
		}
	}
}

func TestNodeIDOrdinalFromFlagAndProperties(t *testing.T) {
	fakeHostname(t, "strom-5", nil)
	cfg, _, _ := load(t, []string{"--node-id", "ordinal"}, env{})
	if cfg.NodeID != 5 {
		t.Errorf("--node-id ordinal: NodeID = %d, want 5", cfg.NodeID)
	}
	p := writeProps(t, "node.id=ordinal\n")
	cfg, _, _ = load(t, []string{"--config", p}, env{})
	if cfg.NodeID != 5 {
		t.Errorf("node.id=ordinal: NodeID = %d, want 5", cfg.NodeID)
	}
	// A number still wins over ordinal when given at a higher precedence.
	cfg, _, _ = load(t, []string{"--node-id", "7"}, env{"STROM_NODE_ID": "ordinal"})
	if cfg.NodeID != 7 {
		t.Errorf("env ordinal, --node-id 7: NodeID = %d, want 7", cfg.NodeID)
	}
}

func TestNodeIDOrdinalErrors(t *testing.T) {
	fakeHostname(t, "my-laptop", nil)
	var stderr bytes.Buffer
	_, _, err := loadConfig(nil, env{"STROM_NODE_ID": "ordinal"}.get, &stderr)
	if !errors.Is(err, ordinal.ErrNoOrdinal) {
		t.Fatalf("hostname my-laptop: err = %v, want ErrNoOrdinal", err)
	}
	for _, want := range []string{"STROM_NODE_ID=ordinal", `"my-laptop"`, "-N"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	errNoHost := errors.New("uname failed")
	fakeHostname(t, "", errNoHost)
	_, _, err = loadConfig([]string{"--node-id", "ordinal"}, env{}.get, &stderr)
	if !errors.Is(err, errNoHost) || !strings.Contains(err.Error(), "--node-id=ordinal") {
		t.Fatalf("hostname error: err = %v, want it wrapped under --node-id=ordinal", err)
	}
}
