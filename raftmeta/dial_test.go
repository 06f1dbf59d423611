package raftmeta

import (
	"context"
	"net"
	"sync"
	"testing"
)

// firstByteConn records the first byte its owner writes: raft's RPC type,
// or forwardConnByte for a forwarded write.
type firstByteConn struct {
	net.Conn
	once   sync.Once
	record func(byte)
}

func (c *firstByteConn) Write(p []byte) (int, error) {
	if len(p) > 0 {
		c.once.Do(func() { c.record(p[0]) })
	}
	return c.Conn.Write(p)
}

// Config.Dial carries both Raft RPCs and forwarded writes; nothing dials
// around it.
func TestClusterDialHook(t *testing.T) {
	var mu sync.Mutex
	kinds := map[string]int{}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &firstByteConn{Conn: c, record: func(b byte) {
			mu.Lock()
			defer mu.Unlock()
			if b == forwardConnByte {
				kinds["forward"]++
			} else {
				kinds["raft"]++
			}
		}}, nil
	}
	var nodes []*Node
	for id := int32(1); id <= 3; id++ {
		cfg := expectConfig(t, id, t.TempDir(), "127.0.0.1:0")
		cfg.Dial = dial
		nodes = append(nodes, openNode(t, cfg))
	}
	if ok, err := nodes[0].TryBootstrap(peerList(nodes...)); !ok || err != nil {
		t.Fatalf("TryBootstrap = %v, %v", ok, err)
	}
	leader := waitLeader(t, nodes)
	for _, n := range nodes {
		waitController(t, n)
	}
	registerBrokers(t, followersOf(nodes, leader)[0], 1)
	mu.Lock()
	defer mu.Unlock()
	if kinds["raft"] == 0 || kinds["forward"] == 0 {
		t.Fatalf("connections through Config.Dial: %v, want raft and forward ones", kinds)
	}
}
