package tests

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBrokerConnectionLimitFlags starts bin/strom with --max-connections-per-ip
// and --connections-max-idle-ms and checks both on real sockets: connections
// over the limit are closed at once, an idle one after the idle time, and a
// client that keeps talking is served throughout.
func TestBrokerConnectionLimitFlags(t *testing.T) {
	b := startBroker(t, "--max-connections-per-ip", "20", "--connections-max-idle-ms", "300")
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	closed := 0
	for range 40 {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			closed++
		}
	}
	if closed < 20 {
		t.Fatalf("%d of 40 connections from one IP closed at once, want at least 20 (max.connections.per.ip=20)", closed)
	}
	// Every remaining idle connection is closed after the idle time.
	waitFor(t, 5*time.Second, "idle connections to be closed", func() error {
		for _, c := range conns {
			c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
				return errors.New("a connection is still open")
			}
		}
		return nil
	})
	if !strings.Contains(b.Logs(), "max.connections.per.ip reached") {
		t.Fatalf("no refusal logged:\n%s", b.logTail(20))
	}
	cl := newKgo(t, b.Addr(), kgo.AllowAutoTopicCreation())
	for i := range 5 {
		if err := cl.ProduceSync(testCtx(t, 10*time.Second), &kgo.Record{Topic: "limits", Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
