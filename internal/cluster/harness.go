package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/netfault"
	"github.com/strombroker/strom/internal/server"
)

// Broker is one broker of a test cluster.
type Broker struct {
	ID  int32
	Cfg server.Config
	Srv *server.Server // nil while stopped
}

// Addr is the broker's Kafka address.
func (b *Broker) Addr() string { return b.Cfg.Listeners[0].Addr() }

// Cluster is a set of in-process brokers.
type Cluster struct {
	t       testing.TB
	Brokers []*Broker
	// Net carries all broker-to-broker traffic (Raft, forwarding, follower
	// fetches, gossip); Partition, Isolate and Heal cut and restore it. Each
	// broker is a node of it under its broker id, owning its Kafka, Raft and
	// gossip addresses. Clients from Client are not on it; ClientAt puts
	// one on it as a pseudo node.
	Net *netfault.Network
}

// freePort reserves a loopback port by binding and releasing it (TCP and
// UDP, since gossip needs both on one port). Ports are fixed so a broker can
// restart on the same addresses, as a real one would.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return port
	}
	t.Fatal("no free port")
	return 0
}

// Option adjusts every broker's config.
type Option func(*server.Config)

// New starts n brokers that find each other through gossip and form one
// controller quorum (bootstrap-expect n), and stops them at test end.
//
// Ports are picked free and bound a moment later by the brokers, so another
// test package running alongside (or an outgoing connection's ephemeral
// port) can take one in between; the broker that cannot bind fails to start
// and the others would wait in vain for a quorum. New then starts the whole
// cluster again on new ports, up to three times.
func New(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	for attempt := 1; ; attempt++ {
		c, err := tryNew(t, n, opts...)
		if err == nil {
			t.Cleanup(c.Close)
			return c
		}
		if attempt < 3 && portTaken(err) {
			t.Logf("cluster start attempt %d: %v; starting again on new ports", attempt, err)
			continue
		}
		t.Fatal(err)
	}
}

// portTaken reports whether err says an address was already in use.
func portTaken(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

// tryNew configures n brokers on fresh ports and starts them together. If
// one fails, the others stop waiting for it and everything started is
// stopped again; the error names every broker that failed.
func tryNew(t testing.TB, n int, opts ...Option) (*Cluster, error) {
	c := &Cluster{t: t, Net: netfault.New()}
	var gossip []string
	for i := range n {
		id := int32(i + 1)
		cfg := server.DefaultConfig()
		cfg.NodeID = id
		kport, rport, gport := freePort(t), freePort(t), freePort(t)
		cfg.Listeners = []server.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: kport}}
		cfg.RaftAddr = fmt.Sprintf("127.0.0.1:%d", rport)
		cfg.GossipAddr = fmt.Sprintf("127.0.0.1:%d", gport)
		cfg.DataDir = t.TempDir()
		cfg.BootstrapExpect = n
		cfg.FastGossip = true
		cfg.FastRaft = true
		cfg.ClusterTick = 100 * time.Millisecond
		cfg.LeaderRebalanceInterval = time.Second
		cfg.ReplicaLagTimeMax = 2 * time.Second
		cfg.ReplicaFetchWaitMax = 200 * time.Millisecond
		cfg.OffsetsTopicPartitions = 3
		cfg.GroupInitialRebalanceDelay = 0
		cfg.GroupMinSessionTimeout = 100 * time.Millisecond
		cfg.Logger = testLogger(t, id)
		c.attach(&cfg)
		gossip = append(gossip, cfg.GossipAddr)
		c.Brokers = append(c.Brokers, &Broker{ID: id, Cfg: cfg})
	}
	for _, b := range c.Brokers {
		b.Cfg.Join = gossip
		for _, o := range opts {
			o(&b.Cfg)
		}
	}
	// Brokers wait for their quorum, so they must start together; the
	// first failure ends the others' wait.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, b := range c.Brokers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = c.startWith(ctx, b); errs[i] != nil {
				errs[i] = fmt.Errorf("start broker %d: %w", b.ID, errs[i])
				cancel()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(b *Broker) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return c.startWith(ctx, b)
}

func (c *Cluster) startWith(ctx context.Context, b *Broker) error {
	srv, err := server.New(b.Cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	b.Srv = srv
	return nil
}

// prepare configures one more broker like Add's, without starting it.
func (c *Cluster) prepare(opts ...Option) *Broker {
	c.t.Helper()
	first := c.Brokers[0]
	cfg := first.Cfg
	id := int32(len(c.Brokers) + 1)
	cfg.NodeID = id
	kport, rport, gport := freePort(c.t), freePort(c.t), freePort(c.t)
	cfg.Listeners = []server.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: kport}}
	cfg.RaftAddr = fmt.Sprintf("127.0.0.1:%d", rport)
	cfg.GossipAddr = fmt.Sprintf("127.0.0.1:%d", gport)
	cfg.DataDir = c.t.TempDir()
	cfg.Logger = testLogger(c.t, id)
	cfg.Join = nil
	for _, b := range c.Brokers {
		cfg.Join = append(cfg.Join, b.Cfg.GossipAddr)
	}
	c.attach(&cfg)
	for _, o := range opts {
		o(&cfg)
	}
	b := &Broker{ID: id, Cfg: cfg}
	c.Brokers = append(c.Brokers, b)
	return b
}

// Add starts one more broker that joins the running cluster through gossip,
// the way an operator adds a 4th broker: same bootstrap-expect, a new id, a
// join list of the existing brokers. It joins the controller quorum as a
// non-voter.
func (c *Cluster) Add(opts ...Option) *Broker {
	c.t.Helper()
	b := c.prepare(opts...)
	if err := c.start(b); err != nil {
		c.t.Fatalf("add broker %d: %v", b.ID, err)
	}
	return b
}

// TryAdd is Add within ctx, returning the start error instead of failing
// the test (the broker stays in Brokers, not running).
func (c *Cluster) TryAdd(ctx context.Context, opts ...Option) (*Broker, error) {
	c.t.Helper()
	b := c.prepare(opts...)
	return b, c.startWith(ctx, b)
}

// Broker returns the broker with id.
func (c *Cluster) Broker(id int32) *Broker { return c.Brokers[id-1] }

// Stop shuts a broker down (graceful: it leaves gossip and closes its logs).
func (c *Cluster) Stop(id int32) {
	c.t.Helper()
	b := c.Broker(id)
	if b.Srv == nil {
		return
	}
	if err := b.Srv.Close(); err != nil {
		c.t.Logf("stop broker %d: %v", id, err)
	}
	b.Srv = nil
}

// Restart starts a stopped broker again on the same addresses and data dir.
func (c *Cluster) Restart(id int32) {
	c.t.Helper()
	if err := c.start(c.Broker(id)); err != nil {
		c.t.Fatalf("restart broker %d: %v", id, err)
	}
}

// attach puts the broker of cfg on the cluster's network.
func (c *Cluster) attach(cfg *server.Config) {
	c.Net.Register(cfg.NodeID, cfg.Listeners[0].Addr(), cfg.RaftAddr, cfg.GossipAddr)
	cfg.Dial = c.Net.Dialer(cfg.NodeID)
	cfg.WrapGossip = c.Net.WrapGossip(cfg.NodeID)
}

// Partition black-holes all traffic between every broker (or ClientAt
// pseudo node) of a and every one of b, including connections already open.
func (c *Cluster) Partition(a, b []int32) { c.Net.Cut(netfault.Blackhole, a, b) }

// Isolate black-holes all traffic between broker id and the other brokers.
// Clients from Client still reach it.
func (c *Cluster) Isolate(id int32) {
	var others []int32
	for _, b := range c.Brokers {
		if b.ID != id {
			others = append(others, b.ID)
		}
	}
	c.Partition([]int32{id}, others)
}

// Heal restores every link cut by Partition, Isolate or Net.Cut.
func (c *Cluster) Heal() { c.Net.Heal() }

// Close stops every broker.
func (c *Cluster) Close() {
	c.Net.Heal() // nobody waits out a black hole on the way down
	var wg sync.WaitGroup
	for _, b := range c.Brokers {
		if b.Srv == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.Srv.Close()
			b.Srv = nil
		}()
	}
	wg.Wait()
}

// Seeds lists the Kafka addresses of running brokers.
func (c *Cluster) Seeds() []string {
	var out []string
	for _, b := range c.Brokers {
		if b.Srv != nil {
			out = append(out, b.Addr())
		}
	}
	return out
}

// Client returns a franz-go client seeded with every broker, closed at test end.
func (c *Cluster) Client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	all := make([]string, 0, len(c.Brokers))
	for _, b := range c.Brokers {
		all = append(all, b.Addr())
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(all...)}, opts...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// ClientAt is Client dialing from pseudo node id of the cluster's network,
// so a test can partition it from brokers like a broker (Net.Cut). id must
// not be a broker id.
func (c *Cluster) ClientAt(id int32, opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	return c.Client(append([]kgo.Opt{kgo.Dialer(c.Net.Dialer(id))}, opts...)...)
}

// Admin returns a kadm client over Client.
func (c *Cluster) Admin() *kadm.Client { return kadm.NewClient(c.Client()) }

// WaitFor polls cond until it holds or the deadline passes.
func (c *Cluster) WaitFor(what string, d time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testLogger(t testing.TB, id int32) *slog.Logger {
	w := logWriterFor(t)
	if os.Getenv("STROM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})).With("broker", id)
	}
	// Warnings go to the test log as they happen; info lines are kept and
	// shown only if the test fails, so that a failure nobody can
	// reproduce (a harness that never elected a controller under load)
	// still says what the brokers were doing.
	return slog.New(levelSplit{
		now:  slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}),
		kept: slog.NewTextHandler(&w.kept, &slog.HandlerOptions{Level: slog.LevelInfo}),
	}).With("broker", id)
}

// levelSplit sends records at or above Warn to now and every record kept
// enables to kept (which then holds warnings too, in order with the rest).
type levelSplit struct{ now, kept slog.Handler }

func (h levelSplit) Enabled(ctx context.Context, l slog.Level) bool {
	return h.now.Enabled(ctx, l) || h.kept.Enabled(ctx, l)
}

func (h levelSplit) Handle(ctx context.Context, r slog.Record) error {
	if h.now.Enabled(ctx, r.Level) {
		_ = h.now.Handle(ctx, r.Clone())
	}
	if h.kept.Enabled(ctx, r.Level) {
		return h.kept.Handle(ctx, r)
	}
	return nil
}

func (h levelSplit) WithAttrs(as []slog.Attr) slog.Handler {
	return levelSplit{h.now.WithAttrs(as), h.kept.WithAttrs(as)}
}

func (h levelSplit) WithGroup(name string) slog.Handler {
	return levelSplit{h.now.WithGroup(name), h.kept.WithGroup(name)}
}

// keptLog holds a test's most recent info lines, up to keptLogMax bytes.
type keptLog struct {
	mu    sync.Mutex
	lines []string
	size  int
}

const keptLogMax = 8 << 20

func (k *keptLog) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lines = append(k.lines, strings.TrimRight(string(p), "\n"))
	k.size += len(p)
	for k.size > keptLogMax && len(k.lines) > 0 {
		k.size -= len(k.lines[0])
		k.lines = k.lines[1:]
	}
	return len(p), nil
}

var (
	logWritersMu sync.Mutex
	logWriters   = map[testing.TB]*tlogWriter{}
)

// logWriterFor returns the one writer of t's brokers, registering the dump
// of its kept lines if t fails.
func logWriterFor(t testing.TB) *tlogWriter {
	logWritersMu.Lock()
	defer logWritersMu.Unlock()
	if w := logWriters[t]; w != nil {
		return w
	}
	w := &tlogWriter{t: t}
	logWriters[t] = w
	t.Cleanup(func() {
		logWritersMu.Lock()
		delete(logWriters, t)
		logWritersMu.Unlock()
		if !t.Failed() {
			return
		}
		w.kept.mu.Lock()
		lines := w.kept.lines
		w.kept.mu.Unlock()
		t.Logf("the brokers' last %d log lines (info and above):\n%s", len(lines), strings.Join(lines, "\n"))
	})
	return w
}

// tlogWriter sends broker logs to the test log while the test runs.
type tlogWriter struct {
	t    testing.TB
	mu   sync.Mutex
	kept keptLog
}

func (w *tlogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer func() { recover() }() // a log line after the test ended must not crash
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
