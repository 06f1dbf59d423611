package compose

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/chaoscheck"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// chaosProject is the compose project of the chaos test, distinct from
	// TestComposeCluster's so that the two never share containers.
	chaosProject = "strom-chaos"
	// chaosBudget bounds TestComposeChaos, cluster start included.
	chaosBudget = 5*time.Minute + 30*time.Second
	// chaosPartitions is the partition count of every scenario's topic.
	chaosPartitions = 3
)

// scenario is one fault injected into the running compose cluster while a
// producer and a consumer run on its own topic.
type scenario struct {
	t         *testing.T
	ctx       context.Context
	cl        *cluster
	kc        *kgo.Client // metadata client through every host port
	topic     string
	prod      *chaoscheck.Producer
	rd        *chaoscheck.Reader
	events    []event
	forbidden []string // values that must not be in the final log
}

// event is one fault action, whose time the unavailability is measured from.
type event struct {
	what string
	at   time.Time
}

func (s *scenario) mark(format string, args ...any) {
	s.t.Helper()
	e := event{fmt.Sprintf(format, args...), time.Now()}
	s.events = append(s.events, e)
	chaoscheck.Report(s.t, "%s (%d acknowledged so far)", e.what, s.prod.AckCount())
}

func (s *scenario) docker(args ...string) string {
	s.t.Helper()
	return s.cl.docker(s.ctx, s.t, args...)
}

func (s *scenario) sleep(d time.Duration) {
	select {
	case <-s.ctx.Done():
	case <-time.After(d):
	}
}

// state is the container's docker state, for the report.
func (s *scenario) state(id int32) string {
	out, _ := s.cl.run(s.ctx, "docker", "inspect", "--format", "{{.State.Status}}", s.cl.container(id))
	return strings.TrimSpace(out)
}

// run creates the scenario's topic, starts the producer and the consumer,
// injects fault, waits for every ISR to be full again and checks: every
// acknowledged record consumed, in order, once, and the three replicas of
// every partition byte-identical. It reports the unavailability each event
// caused (event → first acknowledged record produced after it, per
// partition).
func (cl *cluster) runScenario(ctx context.Context, t *testing.T, topic string, fault func(s *scenario)) {
	t.Helper()
	start := time.Now()
	s := &scenario{t: t, ctx: ctx, cl: cl, topic: topic, kc: cl.client(t, kgo.MetadataMinAge(250*time.Millisecond))}
	cl.createTopic(ctx, t, s.kc, topic)
	s.prod = chaoscheck.StartProducer(t, cl.seeds, topic, chaoscheck.Options{Partitions: chaosPartitions, ClientOpts: []kgo.Opt{
		// Re-read metadata soon after a leader moves, so the measured
		// unavailability is the cluster's, not the client's refresh timer.
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
	}})
	// No group: the reader consumes every partition directly.
	s.rd = chaoscheck.StartReader(t, cl.seeds, topic, kgo.MetadataMinAge(250*time.Millisecond))
	s.prod.WaitAcks(ctx, t, 300, 30*time.Second, "first acknowledgements")

	fault(s)

	last := s.events[len(s.events)-1].at
	cl.waitFullISR(ctx, t, s.kc, topic, 90*time.Second)
	chaoscheck.Report(t, "every ISR full again %v after %q", time.Since(last).Round(time.Millisecond), s.events[len(s.events)-1].what)
	s.prod.WaitAcks(ctx, t, 300, 30*time.Second, "acknowledgements after recovery")
	s.prod.Stop(t, 60*time.Second)

	for _, e := range s.events {
		gaps := s.prod.FirstAckAfter(e.at)
		var parts []string
		worst := time.Duration(0)
		for p, g := range gaps {
			parts = append(parts, fmt.Sprintf("p%d=%v", p, g.Round(time.Millisecond)))
			if g < 0 {
				t.Errorf("partition %d: nothing produced after %q was ever acknowledged", p, e.what)
			}
			worst = max(worst, g)
		}
		chaoscheck.Report(t, "unavailability after %q: %s; worst %v", e.what, strings.Join(parts, " "), worst.Round(time.Millisecond))
	}
	chaoscheck.Verify(ctx, t, cl.seeds, topic, s.prod, s.rd, chaoscheck.VerifyOptions{Forbidden: s.forbidden, ReaderWait: 30 * time.Second})
	if t.Failed() {
		cl.keepLogs(ctx, t)
	}
	cl.waitFullISR(ctx, t, s.kc, topic, 60*time.Second)
	cl.checkReplicasIdentical(ctx, t, topic)
	chaoscheck.Report(t, "scenario took %v", time.Since(start).Round(100*time.Millisecond))
}

// keepLogs writes every broker's whole docker log to $STROM_TEST_LOGS, else
// a strom-failed-* directory under the system temp dir, and says where: the
// containers and their logs are gone once the test cleans up.
func (cl *cluster) keepLogs(ctx context.Context, t *testing.T) {
	t.Helper()
	dir := os.Getenv("STROM_TEST_LOGS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "strom-failed-"+strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("cannot keep broker logs: %v", err)
		return
	}
	for i, id := range cl.ids {
		out, _ := cl.run(ctx, "docker", "logs", id)
		name := filepath.Join(dir, fmt.Sprintf("broker-%d.log", i+1))
		if err := os.WriteFile(name, []byte(out), 0o644); err != nil {
			t.Logf("cannot keep broker log: %v", err)
			continue
		}
		t.Logf("broker-%d's full log kept in %s", i+1, name)
	}
}

// TestComposeChaos runs the docker-compose.yml cluster (production timers,
// as a user runs it) and injects faults with docker itself, one scenario
// after another on the same cluster, each on its own topic under an
// idempotent acks=all producer and a consumer through the host ports:
// docker kill of a broker and of the controller, docker pause (a frozen
// broker), a rolling restart, and a network partition isolating one broker
// (last: a broker that never rejoins would fail every later scenario).
// At the end the cluster is stopped and every topic's replica logs are
// compared byte for byte once more.
func TestComposeChaos(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), chaosBudget)
	defer cancel()
	start := time.Now()
	cl := startCompose(ctx, t, chaosProject)
	chaoscheck.Report(t, "compose cluster %s healthy %v after start (image build included)", chaosProject, time.Since(start).Round(100*time.Millisecond))

	var topics []string
	run := func(name, topic string, fault func(s *scenario)) {
		topics = append(topics, topic)
		t.Run(name, func(t *testing.T) { cl.runScenario(ctx, t, topic, fault) })
	}
	run("KillBroker", "chaos-kill", func(s *scenario) { killAndStart(s, false) })
	run("KillController", "chaos-kill-controller", func(s *scenario) { killAndStart(s, true) })
	run("Pause", "chaos-pause", pauseBroker)
	run("RollingRestart", "chaos-rolling", rollingRestart)
	run("NetworkPartition", "chaos-partition", partitionBroker)

	t.Run("ReplicaLogsAfterStop", func(t *testing.T) {
		sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
		defer scancel()
		if out, err := cl.compose.compose(sctx, "stop", "--timeout", "10"); err != nil {
			t.Fatalf("compose stop: %v\n%s", err, out)
		}
		for _, topic := range topics {
			for p := range chaosPartitions {
				replicas, err := cl.replicaLogs(ctx, t, topic, p)
				if err != nil {
					t.Errorf("%v", err)
					continue
				}
				line, err := chaoscheck.CompareReplicas(fmt.Sprintf("%s-%d", topic, p), replicas)
				if err != nil {
					t.Errorf("after compose stop: %v", err)
					continue
				}
				chaoscheck.Report(t, "stopped replicas identical: %s", line)
			}
		}
	})
	chaoscheck.Report(t, "whole chaos run %v", time.Since(start).Round(100*time.Millisecond))
}

// killAndStart docker-kills a broker (the controller, or a partition leader
// that is not the controller) and docker-starts it again.
func killAndStart(s *scenario, controller bool) {
	s.t.Helper()
	ctrl := controllerID(s.ctx, s.t, s.kc)
	ls := leaders(s.ctx, s.t, s.kc, s.topic)
	victim := ctrl
	if !controller {
		victim = ctrl%3 + 1 // some other broker
		for _, l := range ls {
			if l != ctrl {
				victim = l
				break
			}
		}
	}
	s.docker("kill", s.cl.container(victim))
	s.mark("docker kill broker-%d (controller %d, partition leaders %v)", victim, ctrl, ls)
	s.sleep(3 * time.Second)
	state := s.state(victim) // restart: unless-stopped may already have restarted it
	s.docker("start", s.cl.container(victim))
	s.mark("docker start broker-%d (was %s)", victim, state)
	if controller {
		if now := controllerID(s.ctx, s.t, s.kc); now == victim {
			chaoscheck.Report(s.t, "controller is broker-%d again", now)
		} else {
			chaoscheck.Report(s.t, "controller moved from broker-%d to broker-%d", victim, now)
		}
	}
}

// pauseBroker freezes the leader of partition 0 for 8 s (SIGSTOP of every
// process in the container: a GC pause or a stalled VM) and thaws it: it
// comes back with a stale view and must follow the new leaders.
func pauseBroker(s *scenario) {
	s.t.Helper()
	ls := leaders(s.ctx, s.t, s.kc, s.topic)
	victim := ls[0]
	s.docker("pause", s.cl.container(victim))
	s.mark("docker pause broker-%d (partition leaders %v)", victim, ls)
	s.sleep(8 * time.Second)
	s.docker("unpause", s.cl.container(victim))
	s.mark("docker unpause broker-%d", victim)
}

// partitionBroker isolates the leader of partition 0 from the other two
// brokers for 10 s. `docker network disconnect` alone also unpublishes the
// container's host ports, so the victim is first attached to a network of
// its own: its host port keeps working while it is cut off from the
// compose network, and an acks=all write sent straight to it (a raw
// Produce, so no client can reroute it to the new leader) must not be
// acknowledged, and must be truncated away after it rejoins.
func partitionBroker(s *scenario) {
	s.t.Helper()
	ls := leaders(s.ctx, s.t, s.kc, s.topic)
	victim := ls[0]
	ctr := s.cl.container(victim)
	hostpath := s.cl.project + "_hostpath"
	s.docker("network", "create", hostpath)
	s.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.cl.run(ctx, "docker", "network", "disconnect", "-f", hostpath, ctr)
		if out, err := s.cl.run(ctx, "docker", "network", "rm", hostpath); err != nil {
			s.t.Errorf("docker network rm %s: %v: %s", hostpath, err, out)
		}
	})
	s.docker("network", "connect", hostpath, ctr)

	// A client that only knows the victim's host port.
	iso, err := kgo.NewClient(kgo.SeedBrokers(s.cl.seeds[victim-1]))
	if err != nil {
		s.t.Fatal(err)
	}
	defer iso.Close()
	if _, err := iso.Request(s.ctx, kmsg.NewPtrMetadataRequest()); err != nil {
		s.t.Fatalf("metadata through broker-%d's host port: %v", victim, err)
	}

	s.docker("network", "disconnect", s.cl.network, ctr)
	s.mark("broker-%d cut off from %s (partition leaders %v)", victim, s.cl.network, ls)
	const isolated = "isolated-write"
	s.forbidden = append(s.forbidden, isolated)
	sent := time.Now()
	code, err := rawProduce(s.ctx, iso, victim, s.topic, 0, []byte(isolated), 5*time.Second)
	switch {
	case err == nil && code == 0:
		s.t.Errorf("acks=all write to isolated broker-%d (partition 0, leader before isolation) was acknowledged after %v",
			victim, time.Since(sent).Round(time.Millisecond))
	case err != nil:
		chaoscheck.Report(s.t, "acks=all write to isolated broker-%d not acknowledged: request failed after %v: %v", victim, time.Since(sent).Round(time.Millisecond), err)
	default:
		chaoscheck.Report(s.t, "acks=all write to isolated broker-%d not acknowledged: %v after %v", victim, kerr.ErrorForCode(code), time.Since(sent).Round(time.Millisecond))
	}
	now := leaders(s.ctx, s.t, s.kc, s.topic)
	chaoscheck.Report(s.t, "partition leaders while broker-%d is isolated: %v", victim, now)
	if now[0] == victim {
		s.t.Errorf("broker-%d still leads partition 0 in the majority's metadata while isolated", victim)
	}
	s.sleep(time.Until(sent.Add(10 * time.Second)))

	// The compose service name is a network alias: give it back, or the
	// others cannot resolve broker-N any more.
	s.docker("network", "connect", "--alias", services[victim-1], s.cl.network, ctr)
	s.mark("broker-%d reconnected to %s", victim, s.cl.network)
}

// rawProduce sends one acks=all record in a Produce request straight to
// broker id and returns the partition's error code.
func rawProduce(ctx context.Context, kc *kgo.Client, id int32, topic string, partition int32, value []byte, timeout time.Duration) (int16, error) {
	rec := kmsg.Record{Value: value}
	body := rec.AppendTo(nil)
	rec.Length = int32(len(body) - 1) // the zero Length varint is one byte
	recBytes := rec.AppendTo(nil)
	now := time.Now().UnixMilli()
	batch := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: recBytes,
	}
	b := batch.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:12], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:21], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))

	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = int32(timeout.Milliseconds())
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	// kgo sends its highest version, which names topics by id (v13+).
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, kc)
	if err != nil {
		return 0, err
	}
	if len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != 0 {
		return 0, fmt.Errorf("metadata of %s: %+v", topic, mresp.Topics)
	}
	rt.TopicID = mresp.Topics[0].TopicID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = b
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(rctx, kc.Broker(int(id)))
	if err != nil {
		return 0, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("produce response with %d topics", len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0].ErrorCode, nil
}

// rollingRestart restarts the three brokers one at a time (docker restart:
// SIGTERM, then start), waiting for every ISR to be full before the next,
// as README "Docker" describes an upgrade.
func rollingRestart(s *scenario) {
	s.t.Helper()
	order := []int32{1, 2, 3}
	ctrl := controllerID(s.ctx, s.t, s.kc)
	// The controller last, as operators do.
	order = slices.DeleteFunc(order, func(id int32) bool { return id == ctrl })
	order = append(order, ctrl)
	for i, id := range order {
		if i > 0 {
			s.cl.waitFullISR(s.ctx, s.t, s.kc, s.topic, 90*time.Second)
			chaoscheck.Report(s.t, "every ISR full %v after %q", time.Since(s.events[len(s.events)-1].at).Round(time.Millisecond), s.events[len(s.events)-1].what)
			s.sleep(2 * time.Second)
		}
		ls := leaders(s.ctx, s.t, s.kc, s.topic)
		t0 := time.Now()
		s.docker("restart", "-t", "10", s.cl.container(id))
		s.events = append(s.events, event{fmt.Sprintf("docker restart broker-%d (partition leaders %v)", id, ls), t0})
		chaoscheck.Report(s.t, "docker restart broker-%d took %v (partition leaders before %v)", id, time.Since(t0).Round(time.Millisecond), ls)
	}
}
