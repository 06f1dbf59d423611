package netfault

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// echoServer accepts connections on loopback port 0 and echoes them until
// the test ends; it returns the address and a channel of accepted conns.
func echoServer(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns = append(conns, c)
			mu.Unlock()
			select {
			case accepted <- c:
			default:
			}
			wg.Go(func() { io.Copy(c, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), accepted
}

func dial(t *testing.T, n *Network, from int32, addr string, d time.Duration) (net.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	c, err := n.Dialer(from)(ctx, "tcp", addr)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func roundTrip(c net.Conn) error {
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	_, err := io.ReadFull(c, buf)
	return err
}

func TestNetfaultRefuse(t *testing.T) {
	n := New()
	addr, _ := echoServer(t)
	n.Register(2, addr)
	c, err := dial(t, n, 1, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(c); err != nil {
		t.Fatalf("connected link: %v", err)
	}
	n.Cut(Refuse, []int32{1}, []int32{2})
	if _, err := dial(t, n, 1, addr, 5*time.Second); !errors.Is(err, ErrRefused) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial across a refused link: %v", err)
	}
	if _, err := dial(t, n, 2, addr, 5*time.Second); err != nil {
		t.Fatalf("a node reaching itself: %v", err)
	}
	if err := roundTrip(c); !errors.Is(err, ErrReset) {
		t.Fatalf("open connection after the cut: %v, want reset", err)
	}
	if n.Mode(2, 1) != Refuse {
		t.Fatalf("Mode = %v", n.Mode(2, 1))
	}
	n.Heal()
	c, err = dial(t, n, 1, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(c); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}

func TestNetfaultBlackhole(t *testing.T) {
	n := New()
	addr, accepted := echoServer(t)
	n.Register(2, addr)
	c, err := dial(t, n, 1, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if err := roundTrip(c); err != nil {
		t.Fatal(err)
	}
	// A read in flight when the link is cut stalls until its deadline.
	readErr := make(chan error, 1)
	_ = c.SetDeadline(time.Time{})
	go func() {
		_, err := c.Read(make([]byte, 1))
		readErr <- err
	}()
	n.Cut(Blackhole, []int32{1}, []int32{2})
	if _, err := peer.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if err := <-readErr; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stalled read: %v, want deadline exceeded", err)
	}
	// A write blocks until its deadline instead of succeeding.
	_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stalled write: %v, want deadline exceeded", err)
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Fatal("stalled write returned before its deadline")
	}
	// A dial hangs until its context ends.
	if _, err := dial(t, n, 2, addr, 50*time.Millisecond); err != nil {
		t.Fatalf("node 2 dialing itself: %v", err)
	}
	if _, err := dial(t, n, 1, addr, 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("black-holed dial: %v", err)
	}
	// Heal lets a waiting dial through and resets the stalled connection.
	dialed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c2, err := n.Dialer(1)(ctx, "tcp", addr)
		if err == nil {
			err = roundTrip(c2)
			c2.Close()
		}
		dialed <- err
	}()
	n.Heal()
	if err := <-dialed; err != nil {
		t.Fatalf("dial waiting in the black hole, after heal: %v", err)
	}
	_ = c.SetDeadline(time.Time{})
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrReset) {
		t.Fatalf("stalled connection after heal: %v, want reset", err)
	}
}

func TestNetfaultCloseUnblocksStalledRead(t *testing.T) {
	n := New()
	addr, _ := echoServer(t)
	n.Register(2, addr)
	c, err := dial(t, n, 1, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	n.Cut(Blackhole, []int32{2}, []int32{1})
	readErr := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		readErr <- err
	}()
	c.Close()
	if err := <-readErr; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}

func TestNetfaultUnregisteredAddress(t *testing.T) {
	n := New()
	addr, _ := echoServer(t)
	n.Cut(Refuse, []int32{1}, []int32{2})
	c, err := dial(t, n, 1, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial to an address no node owns: %v", err)
	}
	if err := roundTrip(c); err != nil {
		t.Fatal(err)
	}
}

// fakeTransport is a memberlist transport whose packets the test injects
// and whose sends it records.
type fakeTransport struct {
	memberlist.Transport // nil: only the methods below are used
	in                   chan *memberlist.Packet
	sent                 chan string
	shutdown             chan struct{}
}

func (f *fakeTransport) PacketCh() <-chan *memberlist.Packet { return f.in }
func (f *fakeTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	f.sent <- addr
	return time.Now(), nil
}
func (f *fakeTransport) Shutdown() error { close(f.shutdown); return nil }

func TestNetfaultGossipPackets(t *testing.T) {
	n := New()
	n.Register(1, "127.0.0.1:7001")
	n.Register(2, "127.0.0.1:7002")
	n.Register(3, "127.0.0.1:7003")
	f := &fakeTransport{in: make(chan *memberlist.Packet), sent: make(chan string, 4), shutdown: make(chan struct{})}
	tr := n.WrapGossip(1)(f)
	n.Cut(Blackhole, []int32{1}, []int32{2})

	for _, to := range []string{"127.0.0.1:7002", "127.0.0.1:7003"} {
		if _, err := tr.WriteTo([]byte("x"), to); err != nil {
			t.Fatal(err)
		}
	}
	if got := <-f.sent; got != "127.0.0.1:7003" || len(f.sent) != 0 {
		t.Fatalf("sent to %s (+%d more), want only 127.0.0.1:7003", got, len(f.sent))
	}
	from := func(port int) *memberlist.Packet {
		return &memberlist.Packet{Buf: []byte{byte(port)}, From: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}}
	}
	f.in <- from(7002) // dropped
	f.in <- from(7003)
	if p := <-tr.PacketCh(); p.Buf[0] != byte(7003%256) {
		t.Fatalf("received a packet from port %d", p.From.(*net.UDPAddr).Port)
	}
	if err := tr.Shutdown(); err != nil {
		t.Fatal(err)
	}
	<-f.shutdown
}

// blockingTransport's Shutdown waits for its packet reader, which may be
// blocked handing over a packet, as memberlist's NetTransport does.
type blockingTransport struct {
	fakeTransport
	reader sync.WaitGroup
}

func (b *blockingTransport) Shutdown() error {
	b.reader.Wait()
	return nil
}

func TestNetfaultGossipShutdownDrains(t *testing.T) {
	n := New()
	b := &blockingTransport{fakeTransport: fakeTransport{in: make(chan *memberlist.Packet)}}
	tr := n.WrapGossip(1)(b)
	b.reader.Go(func() {
		for range 3 { // nobody reads tr.PacketCh
			b.in <- &memberlist.Packet{Buf: []byte("x"), From: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7002}}
		}
	})
	done := make(chan error, 1)
	go func() { done <- tr.Shutdown() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown deadlocked with the inner transport's reader blocked on a packet")
	}
}
