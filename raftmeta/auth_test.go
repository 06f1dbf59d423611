package raftmeta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestAuthHandshake: the two sides agree exactly when they share a key,
// including every step of a rotation (keys added second, moved first, the
// old one dropped), and fail on both ends otherwise.
func TestAuthHandshake(t *testing.T) {
	a, b, c := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 16)
	cases := []struct {
		name           string
		client, server [][]byte
		ok             bool
	}{
		{"same key", [][]byte{a}, [][]byte{a}, true},
		{"other key", [][]byte{a}, [][]byte{b}, false},
		{"rotation: new key added second on one side", [][]byte{a, b}, [][]byte{a}, true},
		{"rotation: new key first on one side", [][]byte{b, a}, [][]byte{a, b}, true},
		{"rotation: old key dropped on one side", [][]byte{b}, [][]byte{b, a}, true},
		{"rotation skipped a step", [][]byte{b}, [][]byte{a}, false},
		{"no common key", [][]byte{a, b}, [][]byte{c}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := net.Pipe()
			defer cc.Close()
			defer sc.Close()
			deadline := time.Now().Add(5 * time.Second)
			errc := make(chan error, 1)
			go func() {
				err := serverAuth(sc, tc.server, deadline)
				if err != nil {
					sc.Close() // as the stream does
				}
				errc <- err
			}()
			cerr := clientAuth(cc, tc.client, deadline)
			if cerr != nil {
				cc.Close()
			}
			serr := <-errc
			if tc.ok && (cerr != nil || serr != nil) {
				t.Fatalf("client %v, server %v; want both to pass", cerr, serr)
			}
			if !tc.ok && (cerr == nil || serr == nil) {
				t.Fatalf("client %v, server %v; want both to fail", cerr, serr)
			}
		})
	}
}

// TestClusterKeysGuardRaftPort: nodes sharing cluster keys elect a
// controller and forward writes to it; a connection that does not complete
// the handshake is closed before anything it sends is read as Raft or as a
// forwarded command, and one made with another key is refused on both ends.
func TestClusterKeysGuardRaftPort(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	var nodes []*Node
	for id := int32(1); id <= 3; id++ {
		cfg := expectConfig(t, id, t.TempDir(), "127.0.0.1:0")
		cfg.ClusterKeys = [][]byte{key}
		nodes = append(nodes, openNode(t, cfg))
	}
	if ok, err := nodes[0].TryBootstrap(peerList(nodes...)); !ok || err != nil {
		t.Fatalf("TryBootstrap = %v, %v", ok, err)
	}
	leader := waitLeader(t, nodes)
	for _, n := range nodes {
		waitController(t, n)
	}
	follower := followersOf(nodes, leader)[0]
	registerBrokers(t, follower, 1, 2, 3) // forwarded, so authenticated both ways
	if _, err := follower.CreateTopic(ctxT(t), TopicSpec{Name: "inside", Partitions: 1, ReplicationFactor: 3}, false); err != nil {
		t.Fatalf("forwarded write between nodes with the key: %v", err)
	}

	// A stranger speaking the forward protocol without the handshake.
	c := strangerCreateTopic(t, leader.RaftAddr())
	if n, err := io.ReadAll(c); len(n) != 0 || (err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err)) {
		t.Fatalf("a stranger's forward got %d bytes back (%v); want the connection closed", len(n), err)
	}

	// Another key: refused when dialing, and the controller hears nothing.
	dial := authDialer(orNetDialer(nil), [][]byte{bytes.Repeat([]byte{8}, 32)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c2, err := dial(ctx, "tcp", leader.RaftAddr()); err == nil {
		c2.Close()
		t.Fatal("a dialer with another key passed the handshake")
	} else if !errors.Is(err, errAuth) {
		t.Fatalf("dial with another key: %v, want errAuth", err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, ok := leader.State().Topics["intruder"]; ok {
		t.Fatal("the stranger's CreateTopic was applied")
	}
}

// strangerCreateTopic dials addr as a stranger and sends a forwarded
// CreateTopic of "intruder" without any handshake; the caller reads what
// comes back (nothing, the connection closed) from the returned connection.
func strangerCreateTopic(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	raw, _ := json.Marshal(TopicSpec{Name: "intruder", Partitions: 1, ReplicationFactor: 1})
	body, _ := json.Marshal(forwardRequest{Method: "CreateTopic", Args: raw, TimeoutMS: 5000})
	frame, err := appendFrame([]byte{forwardConnByte}, body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	return c
}

// isReset reports a connection reset by the peer (closing with unread data).
func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}
