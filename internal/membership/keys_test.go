package membership

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestEncryptedGossip: nodes sharing a gossip key form a cluster; a node
// with another key, or none, cannot join it (Start fails and no member ever
// lists it); a node holding the cluster's key as primary and a new one as
// secondary (the first step of a rotation) joins.
func TestEncryptedGossip(t *testing.T) {
	keyA := bytes.Repeat([]byte{0xa}, 32)
	keyB := bytes.Repeat([]byte{0xb}, 16)
	withKeys := func(c Config, keys ...[]byte) Config {
		c.Keys = keys
		return c
	}
	n1 := start(t, withKeys(testConfig(t, 1), keyA))
	n2 := start(t, withKeys(testConfig(t, 2, n1.Addr()), keyA))
	waitMembers(t, n1, 1, 2)
	waitMembers(t, n2, 1, 2)

	for _, c := range []struct {
		name string
		id   int32
		keys [][]byte
	}{
		{"another key", 3, [][]byte{keyB}},
		{"no key", 4, nil},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		m, err := Start(ctx, withKeys(testConfig(t, c.id, n1.Addr()), c.keys...))
		cancel()
		if err == nil {
			_ = m.Shutdown()
			t.Fatalf("%s: node %d joined a cluster encrypted with another key", c.name, c.id)
		}
		if errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	time.Sleep(time.Second) // gossip that got through would show by now
	for _, m := range []*Membership{n1, n2} {
		if got := memberIDs(m.Members()); !slices.Equal(got, []int32{1, 2}) {
			t.Fatalf("node %d lists members %v, want only [1 2]", m.NodeID(), got)
		}
	}

	n5 := start(t, withKeys(testConfig(t, 5, n1.Addr()), keyA, keyB))
	waitMembers(t, n1, 1, 2, 5)
	waitMembers(t, n5, 1, 2, 5)
}

// TestGossipKeySizes: keys must be AES-128, -192 or -256 keys.
func TestGossipKeySizes(t *testing.T) {
	for _, n := range []int{0, 8, 15, 33} {
		c := testConfig(t, 1)
		c.Keys = [][]byte{make([]byte, n)}
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("a %d-byte key: %v, want ErrInvalidConfig", n, err)
		}
	}
	for _, n := range []int{16, 24, 32} {
		c := testConfig(t, 1)
		c.Keys = [][]byte{make([]byte, n)}
		if err := c.Validate(); err != nil {
			t.Errorf("a %d-byte key: %v", n, err)
		}
	}
}
