package server

// Broker metrics (Prometheus), named as Prometheus' jmx_exporter Kafka rules
// and kafka_exporter name Kafka's JMX metrics, so existing dashboards and
// alerts apply; the README lists each series with its JMX origin.
//
// Cost model: what happens per request is a handful of atomic adds. Request
// counts and latencies are observed once per request at the wire layer
// (wire.Config.Observe), topic byte and message counters once per
// partition of a Produce or Fetch (a sync.Map load, then atomic adds; never
// per record). Everything derivable from state (ISR and controller counts,
// log sizes, follower and group lag, connections, Raft positions) is
// computed by metricsCollector when Prometheus scrapes (metrics_collect.go),
// never maintained on changes. Each Server has its own registry: tests run
// several brokers in one process.

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

// Kafka's BrokerState values (kafka_server_kafkaserver_brokerstate).
const (
	brokerNotRunning   = 0
	brokerRunning      = 3
	brokerShuttingDown = 7
)

// latencyBucketsMs are the request latency buckets, in milliseconds like
// Kafka's TotalTimeMs: from a cached Metadata answer to a long-polled Fetch
// or an acks=all Produce under a slow fsync.
var latencyBucketsMs = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}

// topicCounters are one topic's BrokerTopicMetrics. Plain atomics rather than
// prometheus children, so that the collector can drop a deleted topic's
// series by forgetting its entry.
type topicCounters struct {
	messagesIn, bytesIn, bytesOut  atomic.Uint64
	produceRequests, fetchRequests atomic.Uint64
}

// brokerMetrics is one broker's metrics: its registry, the counters kept on
// the request paths, and the scrape-time collector.
type brokerMetrics struct {
	reg        *prometheus.Registry
	partitions bool // metrics.partition.level.enable: per-partition series

	state atomic.Int32 // Kafka's BrokerState

	topics sync.Map // topic name → *topicCounters

	// requests and latency are indexed by API key; nil for keys not served.
	requests [maxMetricsKey + 1]prometheus.Counter
	latency  [maxMetricsKey + 1]prometheus.Observer

	errors *prometheus.CounterVec // request, error: Produce and Fetch partition errors

	replicationBytesOut prometheus.Counter
	reassignBytesOut    prometheus.Counter
	isrShrinks          prometheus.Counter
	isrExpands          prometheus.Counter
	leaderElections     prometheus.Counter
	uncleanElections    prometheus.Counter
}

// maxMetricsKey bounds the API keys with request metrics (Kafka's keys
// stay below it).
const maxMetricsKey = 127

// newBrokerMetrics builds s's registry: request metrics for every key the
// broker serves, the event counters, and the collector of state-derived
// series, which reads s only once s is running.
func newBrokerMetrics(s *Server) *brokerMetrics {
	m := &brokerMetrics{reg: prometheus.NewRegistry(), partitions: s.cfg.MetricsPartitionLevel}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_network_requestmetrics_requests_total",
		Help: "Requests served, by API (Kafka RequestMetrics RequestsPerSec).",
	}, []string{"request"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kafka_network_requestmetrics_totaltimems",
		Help:    "Time from a request's arrival to its response being ready, in milliseconds, by API (Kafka RequestMetrics TotalTimeMs).",
		Buckets: latencyBucketsMs,
	}, []string{"request"})
	for key := range versionTable {
		if key >= 0 && key <= maxMetricsKey {
			name := kmsg.NameForKey(key)
			m.requests[key] = requests.WithLabelValues(name)
			m.latency[key] = latency.WithLabelValues(name)
		}
	}
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafka_network_requestmetrics_errors_total",
		Help: "Partition errors answered to Produce and Fetch, by API and Kafka error name (Kafka RequestMetrics ErrorsPerSec, without error=NONE).",
	}, []string{"request", "error"})
	m.reg.MustRegister(m.errors)
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	m.replicationBytesOut = counter("kafka_server_brokertopicmetrics_replicationbytesout_total",
		"Record bytes sent to follower replicas (Kafka BrokerTopicMetrics ReplicationBytesOutPerSec).")
	m.reassignBytesOut = counter("kafka_server_brokertopicmetrics_reassignmentbytesout_total",
		"Record bytes sent to replicas a reassignment is adding (Kafka BrokerTopicMetrics ReassignmentBytesOutPerSec).")
	m.isrShrinks = counter("kafka_server_replicamanager_isrshrinks_total",
		"ISR shrinks of partitions led here, and those the active controller made for dead brokers (Kafka ReplicaManager IsrShrinksPerSec).")
	m.isrExpands = counter("kafka_server_replicamanager_isrexpands_total",
		"ISR expansions of partitions led here (Kafka ReplicaManager IsrExpandsPerSec).")
	m.leaderElections = counter("kafka_controller_controllerstats_leaderelectionrateandtimems_count",
		"Partition leader changes made by this broker as active controller (Kafka ControllerStats LeaderElectionRateAndTimeMs count).")
	m.uncleanElections = counter("kafka_controller_controllerstats_uncleanleaderelections_total",
		"Leaders elected outside the ISR by this broker as active controller (Kafka ControllerStats UncleanLeaderElectionsPerSec).")
	m.reg.MustRegister(requests, latency, &metricsCollector{s: s, m: m}, telemetryCollector{t: s.telemetry})
	return m
}

// Metrics is the broker's Prometheus registry: every broker series (none of
// the Go runtime's; cmd/strom adds those). Each Server has its own, so
// brokers sharing a process do not mix their series. It may be gathered
// before Start (only the broker state and counters are there then) and
// after Close.
func (s *Server) Metrics() prometheus.Gatherer { return s.metrics.reg }

// setState records Kafka's BrokerState. Start sets running once everything
// the collector reads is in place; Close sets shutting down first.
func (m *brokerMetrics) setState(state int32) { m.state.Store(state) }

// running reports whether the collector may read the broker's parts.
func (m *brokerMetrics) running() bool { return m.state.Load() == brokerRunning }

// observeRequest is the wire.Config.Observe hook: one counter and one
// histogram observation per request.
func (m *brokerMetrics) observeRequest(key int16, took time.Duration) {
	if key < 0 || key > maxMetricsKey || m.requests[key] == nil {
		return
	}
	m.requests[key].Inc()
	m.latency[key].Observe(float64(took) / float64(time.Millisecond))
}

// topic returns name's counters, creating them on first use.
func (m *brokerMetrics) topic(name string) *topicCounters {
	if tc, ok := m.topics.Load(name); ok {
		return tc.(*topicCounters)
	}
	tc, _ := m.topics.LoadOrStore(name, new(topicCounters))
	return tc.(*topicCounters)
}

// produced counts one partition's append: Kafka's
// TotalProduceRequestsPerSec of the topic and, unless it was an idempotent
// retry answered as a duplicate (nothing appended), MessagesInPerSec
// (records, from the batch headers) and BytesInPerSec.
func (m *brokerMetrics) produced(topic string, records []byte, duplicate bool) {
	tc := m.topic(topic)
	tc.produceRequests.Add(1)
	if duplicate {
		return
	}
	tc.bytesIn.Add(uint64(len(records)))
	tc.messagesIn.Add(uint64(countBatchRecords(records)))
}

// Offsets in a v2 record batch header (storage/doc.go).
const (
	batchLengthAt  = 8  // int32: bytes after this field
	batchLengthEnd = 12 // where batchLength counts from
	numRecordsAt   = 57 // int32: records in the batch
)

// countBatchRecords sums the record counts of the v2 batch headers in b,
// stopping at anything that does not frame (b was validated by the append
// it follows; this only must not misbehave).
func countBatchRecords(b []byte) int64 {
	var n int64
	for len(b) >= numRecordsAt+4 {
		size := int64(int32(binary.BigEndian.Uint32(b[batchLengthAt:]))) + batchLengthEnd
		if size < numRecordsAt+4 || size > int64(len(b)) {
			break
		}
		if c := int32(binary.BigEndian.Uint32(b[numRecordsAt:])); c > 0 {
			n += int64(c)
		}
		b = b[size:]
	}
	return n
}

// fetched counts a Fetch answer's record bytes, once per answered
// partition: a consumer's as the topic's BytesOutPerSec and
// TotalFetchRequestsPerSec, a follower's as ReplicationBytesOutPerSec, as
// Kafka splits them. Spliced file ranges count at their length.
func (m *brokerMetrics) fetched(req *wire.Request, r *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	follower := r.ReplicaID >= 0 || (r.Version >= 15 && r.ReplicaState.ID >= 0)
	m.requestError(r.Key(), resp.ErrorCode)
	var repl int64
	for i := range resp.Topics {
		t := &resp.Topics[i]
		var tc *topicCounters
		if !follower && t.Topic != "" && anyAnswered(t.Partitions) {
			tc = m.topic(t.Topic)
			tc.fetchRequests.Add(uint64(len(t.Partitions)))
		}
		var n int64
		for j := range t.Partitions {
			fp := &t.Partitions[j]
			if b := fp.RecordBatches; len(b) > 0 {
				n += req.SplicedLen(b)
			}
			m.requestError(r.Key(), fp.ErrorCode)
		}
		if follower {
			repl += n
		} else if tc != nil {
			tc.bytesOut.Add(uint64(n))
		}
	}
	if repl > 0 {
		m.replicationBytesOut.Add(float64(repl))
	}
}

// anyAnswered reports whether a partition was served without error, so that
// fetches of unknown topics make no counters.
func anyAnswered(ps []kmsg.FetchResponseTopicPartition) bool {
	for i := range ps {
		if ps[i].ErrorCode == 0 {
			return true
		}
	}
	return false
}

// requestError counts one partition error of a Produce or Fetch answer.
// Errors are rare next to successes, so the labelled child is looked up
// here rather than cached.
func (m *brokerMetrics) requestError(key int16, code int16) {
	if code == 0 {
		return
	}
	name := "UNKNOWN"
	if e := kerr.TypedErrorForCode(code); e != nil {
		name = e.Message
	}
	m.errors.WithLabelValues(kmsg.NameForKey(key), name).Inc()
}

// isrChanged counts a committed ISR change of a partition led here.
func (m *brokerMetrics) isrChanged(from, to []int32) {
	for _, id := range from {
		if !slices.Contains(to, id) {
			m.isrShrinks.Inc()
			break
		}
	}
	for _, id := range to {
		if !slices.Contains(from, id) {
			m.isrExpands.Inc()
			break
		}
	}
}

// countingMeta is the controller's view of the metadata node, counting the
// leader elections and controller-made ISR shrinks it commits.
type countingMeta struct {
	*raftmeta.Node
	m *brokerMetrics
}

// AlterPartition applies ch and counts what it changed: a new leader is an
// election (unclean when it was not in the ISR before), the same leader with
// fewer ISR members a shrink.
func (c countingMeta) AlterPartition(ctx context.Context, ch raftmeta.PartitionChange) (raftmeta.Partition, error) {
	var before *raftmeta.Partition
	if t := c.Node.State().Topics[ch.Topic]; t != nil && ch.Partition >= 0 && int(ch.Partition) < len(t.Partitions) {
		before = &t.Partitions[ch.Partition]
	}
	p, err := c.Node.AlterPartition(ctx, ch)
	if err != nil || before == nil {
		return p, err
	}
	switch {
	case p.Leader != before.Leader && p.Leader >= 0:
		c.m.leaderElections.Inc()
		if !slices.Contains(before.ISR, p.Leader) {
			c.m.uncleanElections.Inc()
		}
	case p.Leader == before.Leader:
		c.m.isrChanged(before.ISR, p.ISR)
	}
	return p, nil
}
