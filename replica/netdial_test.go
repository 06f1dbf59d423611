package replica

import (
	"context"
	"errors"
	"net"
	"testing"
)

// The default Dialer opens its connections through NetDial when one is set
// (the cluster harness's fault network).
func TestReplicationNetDial(t *testing.T) {
	errCut := errors.New("cut by test")
	var dialed []string
	rc := ReplicationConfig{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, network+" "+addr)
		return nil, errCut
	}}.withDefaults(1)
	if _, err := rc.Dialer(context.Background(), "127.0.0.1:9"); !errors.Is(err, errCut) {
		t.Fatalf("Dialer error %v, want the NetDial error", err)
	}
	if len(dialed) != 1 || dialed[0] != "tcp 127.0.0.1:9" {
		t.Fatalf("NetDial calls %q", dialed)
	}
}
