package server

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testBatch encodes a v2 batch of n one-byte records (offsets and CRC are
// not needed by countBatchRecords).
func testBatch(n int) []byte {
	var recs []byte
	for i := range n {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte{'x'}}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(n - 1), NumRecords: int32(n), Records: recs, ProducerID: -1}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12))
	return raw
}

func TestCountBatchRecords(t *testing.T) {
	three, two := testBatch(3), testBatch(2)
	both := append(append([]byte{}, three...), two...)
	negative := append([]byte{}, two...)
	binary.BigEndian.PutUint32(negative[numRecordsAt:], 0xffffffff)
	tooLong := append([]byte{}, two...)
	binary.BigEndian.PutUint32(tooLong[batchLengthAt:], 1<<30)
	for _, tc := range []struct {
		name string
		b    []byte
		want int64
	}{
		{"empty", nil, 0},
		{"one batch", three, 3},
		{"two batches", both, 5},
		{"second batch cut", both[:len(both)-3], 3},
		{"header only", both[:numRecordsAt+4], 0},
		{"negative count", negative, 0},
		{"length past the end", tooLong, 0},
		{"garbage", []byte(strings.Repeat("\xff", 100)), 0},
	} {
		if got := countBatchRecords(tc.b); got != tc.want {
			t.Errorf("%s: %d records, want %d", tc.name, got, tc.want)
		}
	}
}

// series gathers g into "name{label=value,...}" → value, labels in
// registry order (sorted by name), histograms as their sample count.
func series(t testing.TB, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// TestMetricsPartitionLevel: with metrics.partition.level.enable the log
// and group-lag series carry a partition label; a deleted topic's series
// go away.
func TestMetricsPartitionLevel(t *testing.T) {
	s, addr := startTestServer(t, func(c *Config) { c.MetricsPartitionLevel = true })
	ctx := testCtx(t, 30*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "pl", 2); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 10 {
		r := &kgo.Record{Topic: "pl", Partition: 1, Value: []byte(fmt.Sprint(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := newAdmin(t, addr)
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "pl", Partition: 1, At: 4, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, "plg", offs); err != nil {
		t.Fatal(err)
	}
	got := series(t, s.Metrics())
	for key, want := range map[string]float64{
		"kafka_log_log_logendoffset{partition=1,topic=pl}":                            10,
		"kafka_log_log_logendoffset{partition=0,topic=pl}":                            0,
		"kafka_log_log_numlogsegments{partition=1,topic=pl}":                          1,
		"kafka_consumergroup_lag{consumergroup=plg,partition=1,topic=pl}":             6,
		"kafka_consumergroup_lag_sum{consumergroup=plg,topic=pl}":                     6,
		"kafka_consumergroup_current_offset_sum{consumergroup=plg,topic=pl}":          4,
		"kafka_server_brokertopicmetrics_messagesin_total{topic=pl}":                  10,
		"kafka_server_replicamanager_leadercount{}":                                   2 + 4, // and __consumer_offsets
		"kafka_server_replicamanager_underreplicatedpartitions{}":                     0,
		"kafka_controller_kafkacontroller_globaltopiccount{}":                         2,
		"kafka_server_raft_metrics_current_state{state=Leader}":                       1,
		"kafka_coordinator_group_groupmetadatamanager_numgroups{}":                    1,
		"kafka_coordinator_group_groupmetadatamanager_numgroupsbystate{state=Empty}":  1,
		"kafka_coordinator_group_groupmetadatamanager_numgroupsbystate{state=Stable}": 0,
		"kafka_server_fetchsessioncache_numincrementalfetchsessions{}":                0,
		"kafka_server_kafkaserver_brokerstate{}":                                      brokerRunning,
		"kafka_controller_kafkacontroller_activecontrollercount{}":                    1,
		"kafka_controller_kafkacontroller_offlinepartitionscount{}":                   0,
		"kafka_server_brokertopicmetrics_replicationbytesout_total{}":                 0,
		"kafka_controller_controllerstats_leaderelectionrateandtimems_count{}":        0,
		"kafka_server_replicafetchermanager_maxlag{clientid=Replica}":                 0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	// Counts of requests: a client may retry one.
	for key, least := range map[string]float64{
		"kafka_server_socket_server_metrics_connection_count{listener=PLAINTEXT}": 1,
		"kafka_server_brokertopicmetrics_totalproducerequests_total{topic=pl}":    10,
		"kafka_network_requestmetrics_totaltimems{request=Produce}":               10,
		"kafka_network_requestmetrics_requests_total{request=CreateTopics}":       1,
		"kafka_server_broker_metadata_metrics_last_applied_record_offset{}":       1,
		"kafka_server_raft_metrics_high_watermark{}":                              1,
		"kafka_server_raft_metrics_current_epoch{}":                               1,
	} {
		if v := got[key]; v < least {
			t.Errorf("%s = %v, want at least %v", key, v, least)
		}
	}
	if _, ok := got["kafka_log_log_size{topic=pl}"]; ok {
		t.Error("per-topic log size exported with partition-level series on")
	}

	checkRequestErrors(t, s, addr)

	if _, err := adm.DeleteTopics(ctx, "pl"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "deleted topic's series gone", func() bool {
		got := series(t, s.Metrics())
		_, in := got["kafka_server_brokertopicmetrics_messagesin_total{topic=pl}"]
		_, log := got["kafka_log_log_logendoffset{partition=1,topic=pl}"]
		return !in && !log
	})
}

// checkRequestErrors sends a Produce and a Fetch for a partition topic pl
// does not have and checks both errors are counted.
func checkRequestErrors(t *testing.T, s *Server, addr string) {
	t.Helper()
	sendToMissingPartition(t, addr, "pl")
	got := series(t, s.Metrics())
	for _, key := range []string{
		"kafka_network_requestmetrics_errors_total{error=UNKNOWN_TOPIC_OR_PARTITION,request=Produce}",
		"kafka_network_requestmetrics_errors_total{error=UNKNOWN_TOPIC_OR_PARTITION,request=Fetch}",
	} {
		if got[key] < 1 {
			t.Errorf("%s = %v, want at least 1", key, got[key])
		}
	}
}

// sendToMissingPartition sends a Produce and a Fetch for partition 7 of
// topic, which it does not have.
func sendToMissingPartition(t *testing.T, addr, topic string) {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	c := dialRaw(t, addr)
	prod := kmsg.NewPtrProduceRequest()
	prod.Version, prod.Acks, prod.TimeoutMillis = 9, 1, 5000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Partition, pp.Records = 7, testBatch(1)
	pt.Partitions = append(pt.Partitions, pp)
	prod.Topics = append(prod.Topics, pt)
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version, fetch.ReplicaID, fetch.MaxBytes = 12, -1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 7, 1<<20, -1
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	for _, req := range []kmsg.Request{prod, fetch} {
		if _, err := c.Request(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkMetricsProduceHotPath is what metrics add to one Produce of one
// partition: the request observation and the topic counters (run it beside
// wire's BenchmarkRoundTrip or storage's BenchmarkAppend for scale).
func BenchmarkMetricsProduceHotPath(b *testing.B) {
	s, err := New(testConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	m := s.metrics
	batch := testBatch(10)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.produced("bench", batch, false)
			m.observeRequest(0, 300*time.Microsecond)
		}
	})
}

// exportedSeries starts a broker, has it serve a producer and a committed
// group, and returns the names of every series it then exports.
func exportedSeries(t *testing.T) map[string]bool {
	t.Helper()
	s, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "dash", 1); err != nil {
		t.Fatal(err)
	}
	if err := newClient(t, addr).ProduceSync(ctx, &kgo.Record{Topic: "dash", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "dash", Partition: 0, At: 0, LeaderEpoch: -1})
	if err := newAdmin(t, addr).CommitAllOffsets(ctx, "dashg", offs); err != nil {
		t.Fatal(err)
	}
	sendToMissingPartition(t, addr, "dash") // for the error counters
	mfs, err := s.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	return have
}

// seriesName matches the names of Strom's series in a PromQL expression.
var seriesName = regexp.MustCompile(`kafka_[a-z_]+`)

// checkExprs reports every series an expression of what names that have
// lacks (a histogram's _bucket series by the histogram's name), and
// returns how many references it checked.
func checkExprs(t *testing.T, have map[string]bool, what, expr string) int {
	t.Helper()
	n := 0
	for _, m := range seriesName.FindAllString(expr, -1) {
		n++
		if !have[strings.TrimSuffix(m, "_bucket")] {
			t.Errorf("%s queries %s, which the broker does not export", what, m)
		}
	}
	return n
}

// TestGrafanaDashboardSeriesExist: every series the dashboard in
// deploy/grafana queries is exported.
func TestGrafanaDashboardSeriesExist(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/strom.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	have := exportedSeries(t)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			n += checkExprs(t, have, "panel "+p.Title, tg.Expr)
		}
	}
	if n < 20 {
		t.Errorf("only %d series references found in the dashboard", n)
	}
}

// TestAlertRulesSeriesExist: every series the alerting rules in
// deploy/prometheus name is exported (the file is read line by line: each
// rule's expression is on its "expr:" line).
func TestAlertRulesSeriesExist(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/prometheus/strom-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	have := exportedSeries(t)
	rules := 0
	for i, line := range strings.Split(string(raw), "\n") {
		if expr, ok := strings.CutPrefix(strings.TrimSpace(line), "expr:"); ok {
			rules++
			if checkExprs(t, have, fmt.Sprintf("line %d", i+1), expr) == 0 {
				t.Errorf("line %d: an expression without a Strom series", i+1)
			}
		}
	}
	if rules < 5 {
		t.Errorf("only %d rules found", rules)
	}
}

// TestMetricsGatherDuringStartAndClose: cmd/strom serves /metrics before
// Start and while Close runs; gathering then must be safe (run with -race)
// and report the broker state.
func TestMetricsGatherDuringStartAndClose(t *testing.T) {
	s, err := New(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Metrics().Gather(); err != nil {
				done <- err
				return
			}
		}
	}()
	ctx := testCtx(t, 30*time.Second)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := series(t, s.Metrics())["kafka_server_kafkaserver_brokerstate{}"]; got != brokerRunning {
		t.Errorf("broker state %v while running", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := series(t, s.Metrics())["kafka_server_kafkaserver_brokerstate{}"]; got != brokerShuttingDown {
		t.Errorf("broker state %v after Close", got)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("gather: %v", err)
	}
}
