package tests

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/chaoscheck"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clusterFlags are the timers every process cluster runs with: failure
// detection, ISR shrink and leader moves in about a second instead of
// production's tens of seconds, so a test sees many failovers in little time.
// They change how fast the cluster reacts, not what it guarantees.
var clusterFlags = []string{
	"--fast-gossip", "true",
	"--fast-raft", "true",
	"--cluster-tick-ms", "100",
	"--replica-lag-time-max-ms", "2000",
	"--replica-fetch-wait-max-ms", "200",
	"--leader-imbalance-check-interval-seconds", "1",
	"--group-min-session-timeout-ms", "100",
	"--offsets-topic-num-partitions", "3",
}

// procCluster is n `strom broker` processes forming one cluster on loopback.
// Every broker keeps its Kafka, Raft and gossip ports and its data directory
// across restarts, as a real broker on a fixed host would. Methods are called
// from the test goroutine only.
type procCluster struct {
	t       *testing.T
	brokers []*broker // brokers[i] has node id i+1
}

// startCluster launches n brokers together (each waits for the quorum of
// bootstrap-expect n before it serves clients) and waits until all serve.
// extra flags go to every broker, after clusterFlags. Ports are picked free
// and bound a moment later by the brokers, so something else can take one in
// between; a broker that then cannot bind exits, and the whole cluster is
// started again on new ports, up to three times.
func startCluster(t *testing.T, n int, extra ...string) *procCluster {
	t.Helper()
	for attempt := 1; ; attempt++ {
		c, err := tryStartCluster(t, n, extra...)
		if err == nil {
			return c
		}
		if attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			t.Logf("cluster start attempt %d: %v; starting again on new ports", attempt, err)
			continue
		}
		t.Fatal(err)
	}
}

// tryStartCluster is one attempt of startCluster; on failure every broker it
// launched is killed again.
func tryStartCluster(t *testing.T, n int, extra ...string) (*procCluster, error) {
	t.Helper()
	c := &procCluster{t: t}
	type ports struct{ kafka, raft, gossip int }
	var ps []ports
	var gossip []string
	// freePort releases the port it found, so the kernel may hand it out
	// again to the next call: two brokers once got the same Kafka port.
	used := map[int]bool{}
	pick := func() int {
		t.Helper()
		for range 100 {
			if p := freePort(t); !used[p] {
				used[p] = true
				return p
			}
		}
		t.Fatal("no distinct free port")
		return 0
	}
	for range n {
		p := ports{pick(), pick(), pick()}
		ps = append(ps, p)
		gossip = append(gossip, net.JoinHostPort("127.0.0.1", strconv.Itoa(p.gossip)))
	}
	for i, p := range ps {
		flags := append([]string{
			"--gossip-addr", gossip[i],
			"--join", strings.Join(gossip, ","),
			"--bootstrap-expect", strconv.Itoa(n),
		}, clusterFlags...)
		b := newBroker(t, append(flags, extra...))
		b.nodeID = int32(i + 1)
		b.port = p.kafka
		b.raftAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.raft))
		c.brokers = append(c.brokers, b)
	}
	readies := make([]<-chan string, n)
	for i, b := range c.brokers {
		readies[i] = b.launch()
	}
	// A broker that exits (a port taken under it) ends every wait: the
	// others wait for a quorum that cannot form.
	exited := make(chan *broker, n)
	for _, b := range c.brokers {
		go func() {
			<-b.exited
			exited <- b
		}()
	}
	var errs []error
	for i, b := range c.brokers {
		select {
		case adv := <-readies[i]:
			if err := b.readyAt(adv); err != nil {
				errs = append(errs, err)
			}
		case x := <-exited:
			errs = append(errs, x.exitedEarly())
		case <-time.After(brokerStartTimeout):
			errs = append(errs, fmt.Errorf("broker %d: no %q line within %v", b.nodeID, "listening for Kafka clients", brokerStartTimeout))
		}
		if len(errs) > 0 {
			break
		}
	}
	if len(errs) > 0 {
		for _, b := range c.brokers {
			if b.running() {
				b.Kill()
			}
		}
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// freePort reserves a loopback port free for both TCP and UDP (gossip uses
// both on one port) by binding and releasing it.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve a port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return port
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

// broker returns the broker with node id.
func (c *procCluster) broker(id int32) *broker { return c.brokers[id-1] }

// addrs lists every broker's Kafka address, running or not: clients are
// seeded with all of them, as users configure bootstrap.servers.
func (c *procCluster) addrs() []string {
	out := make([]string, len(c.brokers))
	for i, b := range c.brokers {
		out[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	}
	return out
}

// bootstrap is addrs joined for --bootstrap-server style flags.
func (c *procCluster) bootstrap() string { return strings.Join(c.addrs(), ",") }

// client returns a franz-go client seeded with every broker, closed at test end.
func (c *procCluster) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	return newKgo(c.t, c.bootstrap(), opts...)
}

// createTopic creates topic with replication factor rf and configs, retrying
// while the controller is still settling.
func (c *procCluster) createTopic(topic string, partitions int32, rf int16, configs map[string]*string) {
	c.t.Helper()
	adm := newAdmin(c.t, c.bootstrap())
	waitFor(c.t, 30*time.Second, "create topic "+topic, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := adm.CreateTopic(ctx, partitions, rf, configs, topic)
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
}

// running lists the ids of brokers whose process is alive.
func (c *procCluster) running() []int32 {
	var out []int32
	for i, b := range c.brokers {
		if b.running() {
			out = append(out, int32(i+1))
		}
	}
	return out
}

// metadata asks the running brokers in turn for topic's metadata and returns
// the first answer.
func (c *procCluster) metadata(cl *kgo.Client, topic string) (controller int32, parts []chaoscheck.PartitionState, err error) {
	for _, id := range c.running() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		controller, parts, err = chaoscheck.MetadataFrom(ctx, cl, id, topic)
		cancel()
		if err == nil {
			return controller, parts, nil
		}
	}
	if err == nil {
		err = fmt.Errorf("no broker running")
	}
	return -1, nil, err
}

// leaderOf waits until a running broker names a live leader of topic/p.
func (c *procCluster) leaderOf(cl *kgo.Client, topic string, p int32) int32 {
	c.t.Helper()
	var leader int32 = -1
	waitFor(c.t, 30*time.Second, fmt.Sprintf("a live leader of %s/%d", topic, p), func() error {
		_, parts, err := c.metadata(cl, topic)
		if err != nil {
			return err
		}
		if int(p) >= len(parts) {
			return fmt.Errorf("no partition %d", p)
		}
		l := parts[p].Leader
		if l < 1 || int(l) > len(c.brokers) || !c.broker(l).running() {
			return fmt.Errorf("leader %d is not running", l)
		}
		leader = l
		return nil
	})
	return leader
}

// controller waits until a running broker names a running controller.
func (c *procCluster) controller(cl *kgo.Client, topic string) int32 {
	c.t.Helper()
	var ctrl int32 = -1
	waitFor(c.t, 30*time.Second, "a live controller", func() error {
		id, _, err := c.metadata(cl, topic)
		if err != nil {
			return err
		}
		if id < 1 || int(id) > len(c.brokers) || !c.broker(id).running() {
			return fmt.Errorf("controller %d is not running", id)
		}
		ctrl = id
		return nil
	})
	return ctrl
}

// fullISR is nil once every running broker's metadata shows every partition
// of topic with a leader and all brokers of the cluster in its ISR.
func (c *procCluster) fullISR(cl *kgo.Client, topic string, partitions int) error {
	return chaoscheck.FullISR(context.Background(), cl, topic, partitions, c.running(), len(c.brokers))
}

// waitFullISR waits for fullISR.
func (c *procCluster) waitFullISR(cl *kgo.Client, topic string, partitions int, timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, "full ISR of "+topic, func() error { return c.fullISR(cl, topic, partitions) })
}

// stopAll stops every running broker gracefully.
func (c *procCluster) stopAll() {
	c.t.Helper()
	for _, b := range c.brokers {
		if b.running() {
			b.Stop()
		}
	}
}

// compareReplicaLogs compares each partition's log bytes across the data
// dirs of all brokers (which must be stopped) and returns a line per
// partition describing it, and an error naming the first difference.
func (c *procCluster) compareReplicaLogs(topic string, partitions int) ([]string, error) {
	var lines []string
	var firstErr error
	for p := range partitions {
		var replicas []chaoscheck.Replica
		for i, b := range c.brokers {
			l, segs, err := chaoscheck.SegmentLog(filepath.Join(b.dataDir, fmt.Sprintf("%s-%d", topic, p)))
			if err != nil {
				return lines, fmt.Errorf("broker %d: %w", i+1, err)
			}
			replicas = append(replicas, chaoscheck.Replica{Name: fmt.Sprintf("broker %d", i+1), Log: l, Segments: segs})
		}
		line, err := chaoscheck.CompareReplicas(fmt.Sprintf("%s-%d", topic, p), replicas)
		lines = append(lines, line)
		if firstErr == nil {
			firstErr = err
		}
	}
	return lines, firstErr
}
