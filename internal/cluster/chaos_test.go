package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/chaoscheck"
)

// TestChaosPartitions runs three in-process brokers under the chaos
// workload (an idempotent acks=all producer with min.insync.replicas=2 and
// a consumer group, internal/chaoscheck) and cuts the network between them:
// a random broker isolated, the controller isolated, or one link cut while
// both ends still reach the third broker, each for 1-3 s and healed. Clients keep reaching every
// broker, so an isolated leader keeps receiving writes it must never
// acknowledge. Then every acknowledged record must be in the log once, at
// its offset, in order, the group must have seen them all, and the three
// replicas of each partition must be byte-identical. It runs for
// STROM_CHAOS_DURATION (default 10s) or STROM_CHAOS_FAULTS partitions.
func TestChaosPartitions(t *testing.T) {
	const topic, partitions = "pchaos", 3
	duration, wantFaults, seed := chaosSettings(t, 10*time.Second)
	rng := rand.New(rand.NewPCG(seed, seed))
	chaoscheck.Report(t, "duration %v, faults %d (0: by duration), seed %d (STROM_CHAOS_SEED)", duration, wantFaults, seed)

	c := New(t, 3)
	two := "2"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := c.Admin().CreateTopic(ctx, partitions, 3, map[string]*string{"min.insync.replicas": &two}, topic); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	meta := c.Client()
	all := []int32{1, 2, 3}
	settle := func() {
		chaoscheck.WaitFor(context.Background(), t, 60*time.Second, "every ISR full", func() error {
			return chaoscheck.FullISR(context.Background(), meta, topic, partitions, all, 3)
		})
	}
	settle()
	prod := chaoscheck.StartProducer(t, c.Seeds(), topic, chaoscheck.Options{Partitions: partitions, Pace: 5 * time.Millisecond,
		ClientOpts: []kgo.Opt{kgo.MetadataMinAge(250 * time.Millisecond)}})
	group := chaoscheck.StartReader(t, c.Seeds(), topic, kgo.ConsumerGroup("pchaos-readers"))
	prod.WaitAcks(context.Background(), t, 100, 30*time.Second, "first acknowledgements")

	type fault struct {
		what           string
		at             time.Time
		cut, toFullISR time.Duration
	}
	var faults []fault
	end := time.Now().Add(duration)
	for n := 0; (wantFaults > 0 && n < wantFaults) || (wantFaults == 0 && (n == 0 || time.Now().Before(end))); n++ {
		what, at := partitionFault(c, rng)
		time.Sleep(time.Second + time.Duration(rng.Int64N(int64(2*time.Second))))
		c.Heal()
		healed := time.Now()
		settle()
		faults = append(faults, fault{what, at, healed.Sub(at), time.Since(healed)})
		time.Sleep(500 * time.Millisecond)
	}
	settle()
	prod.Stop(t, 60*time.Second)
	for i, f := range faults {
		chaoscheck.Report(t, "fault #%d %s: cut %v; full ISR %v after heal; fault→first ack per partition %v",
			i+1, f.what, f.cut.Round(time.Millisecond), f.toFullISR.Round(time.Millisecond), roundAll(prod.FirstAckAfter(f.at)))
	}
	chaoscheck.Verify(context.Background(), t, c.Seeds(), topic, prod, group, chaoscheck.VerifyOptions{})
	group.Stop()
	settle()
	compareReplicas(t, c, topic, partitions)
}

// chaosSettings reads STROM_CHAOS_DURATION, STROM_CHAOS_FAULTS and
// STROM_CHAOS_SEED.
func chaosSettings(t *testing.T, def time.Duration) (duration time.Duration, faults int, seed uint64) {
	t.Helper()
	duration, seed = def, uint64(time.Now().UnixNano())
	if v := os.Getenv("STROM_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("STROM_CHAOS_DURATION=%q: %v", v, err)
		}
		duration = d
	}
	if v := os.Getenv("STROM_CHAOS_FAULTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("STROM_CHAOS_FAULTS=%q: want a positive count", v)
		}
		faults = n
	}
	if v := os.Getenv("STROM_CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("STROM_CHAOS_SEED=%q: %v", v, err)
		}
		seed = s
	}
	return duration, faults, seed
}

// partitionFault cuts the network one of three ways and says which.
func partitionFault(c *Cluster, rng *rand.Rand) (string, time.Time) {
	switch rng.IntN(3) {
	case 0:
		id := int32(rng.IntN(3) + 1)
		c.Isolate(id)
		return fmt.Sprintf("broker %d isolated", id), time.Now()
	case 1:
		if ctrls := c.controllers(); len(ctrls) == 1 {
			c.Isolate(ctrls[0])
			return fmt.Sprintf("controller %d isolated", ctrls[0]), time.Now()
		}
		fallthrough
	default:
		// A partial partition: two brokers lose each other but both
		// still reach the third (no transitive view of who is alive).
		a := int32(rng.IntN(3) + 1)
		b := c.others(a)[rng.IntN(2)]
		c.Partition([]int32{a}, []int32{b})
		return fmt.Sprintf("link %d-%d cut", a, b), time.Now()
	}
}

func roundAll(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		if d < 0 {
			out[i] = "none"
			continue
		}
		out[i] = d.Round(time.Millisecond).String()
	}
	return out
}

// compareReplicas stops every broker gracefully and checks that the three
// copies of each partition are byte-identical.
func compareReplicas(t *testing.T, c *Cluster, topic string, partitions int) {
	t.Helper()
	c.Close()
	for p := range partitions {
		name := fmt.Sprintf("%s-%d", topic, p)
		var reps []chaoscheck.Replica
		for _, b := range c.Brokers {
			log, segs, err := chaoscheck.SegmentLog(filepath.Join(b.Cfg.DataDir, name))
			if err != nil {
				t.Fatalf("broker %d: %v", b.ID, err)
			}
			reps = append(reps, chaoscheck.Replica{Name: fmt.Sprintf("broker %d", b.ID), Log: log, Segments: segs})
		}
		line, err := chaoscheck.CompareReplicas(name, reps)
		chaoscheck.Report(t, "replica logs %s", line)
		if err != nil {
			t.Errorf("replica logs differ: %v", err)
		}
	}
}
