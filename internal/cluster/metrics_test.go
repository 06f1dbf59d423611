package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// metricSum gathers g and sums the series of name whose labels include
// want (a counter's or gauge's value, a histogram's sample count).
func metricSum(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, want) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// clusterSum is metricSum over every running broker.
func (c *Cluster) clusterSum(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	sum := 0.0
	for _, b := range c.Brokers {
		if b.Srv != nil {
			sum += metricSum(t, b.Srv.Metrics(), name, want)
		}
	}
	return sum
}

// waitSum waits until cond holds for the cluster-wide sum of a series.
func (c *Cluster) waitSum(t *testing.T, name string, labels map[string]string, what string, cond func(float64) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := c.clusterSum(t, name, labels)
		if cond(v) {
			t.Logf("%s%v = %v", name, labels, v)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v: waited 30s for %s, last %v", name, labels, what, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func atLeast(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }
func equal(n float64) func(float64) bool   { return func(v float64) bool { return v == n } }

// TestClusterMetrics scrapes the registries of a 3-broker cluster and checks
// that the series move: produce, consume, replication, group commits, a
// broker stopping and returning.
func TestClusterMetrics(t *testing.T) {
	c := New(t, 3)
	ctx := ctxFor(t, 2*time.Minute)
	adm := c.Admin()
	if resp, err := adm.CreateTopic(ctx, 3, 3, nil, "mt"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	topic := map[string]string{"topic": "mt"}
	c.waitSum(t, "kafka_log_log_numlogsegments", topic, "= 9 (3 partitions on 3 brokers)", equal(9))

	prod := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()))
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, &kgo.Record{Topic: "mt", Value: fmt.Appendf(nil, "v%03d", i)})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Only leaders count produced records: the cluster-wide sum is exact.
	if got := c.clusterSum(t, "kafka_server_brokertopicmetrics_messagesin_total", topic); got != 100 {
		t.Errorf("messages in = %v, want 100", got)
	}
	if got := c.clusterSum(t, "kafka_server_brokertopicmetrics_bytesin_total", topic); got < 100*4 {
		t.Errorf("bytes in = %v, want more than the values' 400 bytes", got)
	}
	request := func(api string) map[string]string { return map[string]string{"request": api} }
	if got := c.clusterSum(t, "kafka_network_requestmetrics_totaltimems", request("Produce")); got < 1 {
		t.Errorf("Produce latency observations = %v", got)
	}
	// Followers fetch, and catch up: lag back to 0, replication bytes out.
	c.waitSum(t, "kafka_network_requestmetrics_totaltimems", request("Fetch"), ">= 1", atLeast(1))
	c.waitSum(t, "kafka_server_brokertopicmetrics_replicationbytesout_total", nil, "> 0", atLeast(1))
	c.waitSum(t, "kafka_server_brokertopicmetrics_replicationbytesin_total", nil, "> 0", atLeast(1))
	c.waitSum(t, "kafka_server_replicafetchermanager_maxlag", nil, "= 0", equal(0))
	c.waitSum(t, "kafka_log_log_size", topic, "> 3 copies of the values", atLeast(3*400))
	c.waitSum(t, "kafka_controller_kafkacontroller_activecontrollercount", nil, "= 1", equal(1))
	c.waitSum(t, "kafka_server_raft_metrics_current_state", map[string]string{"state": "Leader"}, "= 1", equal(1))
	if got := c.clusterSum(t, "kafka_server_socket_server_metrics_connection_count", map[string]string{"listener": "PLAINTEXT"}); got < 1 {
		t.Errorf("connections = %v", got)
	}

	checkGroupLag(t, c, adm)
	checkBrokerDown(t, c)
	checkBrokerCutOff(t, c)
}

// checkGroupLag commits offset 0 for every partition (lag = all 100
// records), then consumes in the group and commits (lag 0), and checks the
// consumers' bytes out.
func checkGroupLag(t *testing.T, c *Cluster, adm *kadm.Client) {
	t.Helper()
	ctx := ctxFor(t, time.Minute)
	var offs kadm.Offsets
	for p := range int32(3) {
		offs.Add(kadm.Offset{Topic: "mt", Partition: p, At: 0, LeaderEpoch: -1})
	}
	if err := adm.CommitAllOffsets(ctx, "mg", offs); err != nil {
		t.Fatal(err)
	}
	lag := map[string]string{"consumergroup": "mg", "topic": "mt"}
	c.waitSum(t, "kafka_consumergroup_lag_sum", lag, "= 100 after committing 0", equal(100))

	cons := c.Client(kgo.ConsumerGroup("mg"), kgo.ConsumeTopics("mt"), kgo.DisableAutoCommit())
	got := 0
	for got < 100 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 100", got)
		}
		got += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	c.waitSum(t, "kafka_consumergroup_lag_sum", lag, "= 0 after the consumer committed", equal(0))
	if got := c.clusterSum(t, "kafka_server_brokertopicmetrics_bytesout_total", map[string]string{"topic": "mt"}); got < 400 {
		t.Errorf("bytes out = %v, want at least the values' 400 bytes", got)
	}
	if got := c.clusterSum(t, "kafka_consumergroup_members", map[string]string{"consumergroup": "mg"}); got != 1 {
		t.Errorf("group members = %v, want 1", got)
	}
	cons.Close()
}

// checkBrokerDown stops broker 3: the survivors report under-replicated
// partitions and ISR shrinks (and elections, if it led any); once it is back
// every partition is fully replicated again.
func checkBrokerDown(t *testing.T, c *Cluster) {
	t.Helper()
	ledBy3 := metricSum(t, c.Broker(3).Srv.Metrics(), "kafka_server_replicamanager_leadercount", nil)
	c.Stop(3)
	c.waitSum(t, "kafka_server_replicamanager_underreplicatedpartitions", nil, "> 0 with broker 3 down", atLeast(1))
	c.waitSum(t, "kafka_server_replicamanager_isrshrinks_total", nil, "> 0", atLeast(1))
	if ledBy3 > 0 {
		c.waitSum(t, "kafka_controller_controllerstats_leaderelectionrateandtimems_count", nil, "> 0", atLeast(1))
	}
	c.Restart(3)
	c.waitSum(t, "kafka_server_replicamanager_underreplicatedpartitions", nil, "= 0 with broker 3 back", equal(0))
	c.waitSum(t, "kafka_server_replicamanager_isrexpands_total", nil, "> 0", atLeast(1))
	c.waitSum(t, "kafka_controller_kafkacontroller_activecontrollercount", nil, "= 1", equal(1))
	c.waitSum(t, "kafka_server_replicafetchermanager_maxlag", nil, "= 0", equal(0))
}

// checkBrokerCutOff black-holes broker 2 (a crash as its peers see it: no
// goodbye, found dead by gossip): the other two report under-replicated
// partitions until the network heals and it catches up.
func checkBrokerCutOff(t *testing.T, c *Cluster) {
	t.Helper()
	survivors := func(name string) float64 {
		return metricSum(t, c.Broker(1).Srv.Metrics(), name, nil) + metricSum(t, c.Broker(3).Srv.Metrics(), name, nil)
	}
	c.Isolate(2)
	c.WaitFor("under-replicated partitions on the brokers still connected", 30*time.Second, func() bool {
		return survivors("kafka_server_replicamanager_underreplicatedpartitions") > 0
	})
	c.Heal()
	c.waitSum(t, "kafka_server_replicamanager_underreplicatedpartitions", nil, "= 0 once healed", equal(0))
	c.waitSum(t, "kafka_controller_kafkacontroller_activecontrollercount", nil, "= 1", equal(1))
}
