package compose

// Cluster-level helpers of the chaos scenarios: docker commands on the
// broker containers, metadata through the host ports, full-ISR waits and
// byte comparison of the replicas' log files copied out of the containers.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/chaoscheck"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// docker runs a docker command and fails the test (with the brokers' logs)
// if it fails.
func (cl *cluster) docker(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := cl.run(dctx, "docker", args...)
	if err != nil {
		cl.logsFor(t)
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// logsFor attaches the brokers' last log lines to t.
func (cl *cluster) logsFor(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, id := range cl.ids {
		out, _ := cl.run(ctx, "docker", "logs", id)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		// ISR chatter crowds out the rest; gossip lines explain fencing.
		var gossip []string
		for _, l := range lines {
			if strings.Contains(l, "component=gossip") || strings.Contains(l, "membership") {
				gossip = append(gossip, l)
			}
		}
		t.Logf("docker logs %s (%s), last gossip lines:\n%s\nlast lines:\n%s", services[i], id[:12],
			strings.Join(gossip[max(0, len(gossip)-15):], "\n"), strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}

// container returns the container of the broker with node id.
func (cl *cluster) container(id int32) string { return cl.ids[id-1] }

// client returns a franz-go client seeded with every host port, closed at
// test end.
func (cl *cluster) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cl.seeds...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// createTopic creates topic with chaosPartitions partitions, replication
// factor 3 and min.insync.replicas=2, and waits for full ISRs.
func (cl *cluster) createTopic(ctx context.Context, t *testing.T, kc *kgo.Client, topic string) {
	t.Helper()
	adm := kadm.NewClient(kc)
	two := "2"
	chaoscheck.WaitFor(ctx, t, 30*time.Second, "create topic "+topic, func() error {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		resp, err := adm.CreateTopic(rctx, chaosPartitions, 3, map[string]*string{"min.insync.replicas": &two}, topic)
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
	cl.waitFullISR(ctx, t, kc, topic, 30*time.Second)
}

// fullISR is nil once every broker answers metadata with every partition of
// topic led and all three brokers in its ISR.
func fullISR(ctx context.Context, kc *kgo.Client, topic string) error {
	// Make sure the client knows every broker's address.
	if _, err := kadm.NewClient(kc).BrokerMetadata(ctx); err != nil {
		return err
	}
	return chaoscheck.FullISR(ctx, kc, topic, chaosPartitions, []int32{1, 2, 3}, len(services))
}

func (cl *cluster) waitFullISR(ctx context.Context, t *testing.T, kc *kgo.Client, topic string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fullISR(ctx, kc, topic)
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			cl.logsFor(t)
			t.Fatalf("full ISR of %s not within %v: %v", topic, timeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// controllerID asks the cluster (through any host port) which broker is the
// controller.
func controllerID(ctx context.Context, t *testing.T, kc *kgo.Client) int32 {
	t.Helper()
	var ctrl int32
	chaoscheck.WaitFor(ctx, t, 30*time.Second, "a controller", func() error {
		m, err := kadm.NewClient(kc).Metadata(ctx)
		if err != nil {
			return err
		}
		if m.Controller < 1 || int(m.Controller) > len(services) {
			return fmt.Errorf("controller %d", m.Controller)
		}
		ctrl = m.Controller
		return nil
	})
	return ctrl
}

// leaders returns the leader of each partition of topic.
func leaders(ctx context.Context, t *testing.T, kc *kgo.Client, topic string) []int32 {
	t.Helper()
	var out []int32
	chaoscheck.WaitFor(ctx, t, 30*time.Second, "leaders of "+topic, func() error {
		details, err := kadm.NewClient(kc).ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		td := details[topic]
		if td.Err != nil {
			return td.Err
		}
		out = make([]int32, chaosPartitions)
		for p, pd := range td.Partitions {
			if int(p) >= chaosPartitions || pd.Leader < 1 {
				return fmt.Errorf("partition %d leader %d", p, pd.Leader)
			}
			out[p] = pd.Leader
		}
		return nil
	})
	return out
}

// replicaLogs copies /data/<topic>-<p> out of every broker container (docker
// cp works on running and stopped containers) and returns each replica's
// log: its .log segments concatenated in base-offset order.
func (cl *cluster) replicaLogs(ctx context.Context, t *testing.T, topic string, p int) ([]chaoscheck.Replica, error) {
	t.Helper()
	tmp := t.TempDir()
	var replicas []chaoscheck.Replica
	for i, id := range cl.ids {
		dst := filepath.Join(tmp, services[i])
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := cl.run(dctx, "docker", "cp", fmt.Sprintf("%s:/data/%s-%d", id, topic, p), dst)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("docker cp from %s: %v: %s", services[i], err, out)
		}
		log, segs, err := chaoscheck.SegmentLog(dst)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", services[i], err)
		}
		replicas = append(replicas, chaoscheck.Replica{Name: services[i], Log: log, Segments: segs})
	}
	return replicas, nil
}

// checkReplicasIdentical polls (the producer has stopped and every ISR is
// full, so followers converge within a fetch round) until every partition's
// three replicas hold byte-identical logs.
func (cl *cluster) checkReplicasIdentical(ctx context.Context, t *testing.T, topic string) {
	t.Helper()
	for p := range chaosPartitions {
		var line string
		var err error
		deadline := time.Now().Add(20 * time.Second)
		for {
			var replicas []chaoscheck.Replica
			replicas, err = cl.replicaLogs(ctx, t, topic, p)
			if err == nil {
				line, err = chaoscheck.CompareReplicas(fmt.Sprintf("%s-%d", topic, p), replicas)
			}
			if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			t.Errorf("replica logs: %v", err)
			continue
		}
		chaoscheck.Report(t, "replicas identical: %s", line)
	}
}
