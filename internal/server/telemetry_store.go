package server

// The pushed client metrics on /metrics. Labels are bounded: the OTLP
// metric name and the client software name (from ApiVersions, cut to
// maxTelemetryLabelLen), never a client instance, client id or address;
// and at most maxTelemetrySeries series exist, further ones are counted
// as dropped. Gauges show the last value pushed by any client of that
// software, sums the total of the deltas pushed (the subscription asks for
// delta temporality, as Kafka's does; a cumulative sum is shown like a
// gauge, its last value).

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	maxTelemetrySeries   = 2000
	maxTelemetryLabelLen = 64
)

var (
	telemetryGaugeDesc = prometheus.NewDesc("strom_client_metrics_gauge",
		"Client metrics pushed with KIP-714 PushTelemetry: gauges (and cumulative sums), last value, by OTLP metric name and client software.",
		[]string{"metric", "client_software_name"}, nil)
	telemetrySumDesc = prometheus.NewDesc("strom_client_metrics_sum_total",
		"Client metrics pushed with KIP-714 PushTelemetry: delta sums added up, by OTLP metric name and client software.",
		[]string{"metric", "client_software_name"}, nil)
	telemetryPushesDesc = prometheus.NewDesc("strom_client_telemetry_pushes_total",
		"PushTelemetry requests answered, by Kafka error name (NONE when accepted).", []string{"error"}, nil)
	telemetryDroppedDesc = prometheus.NewDesc("strom_client_metrics_dropped_total",
		"Pushed client metric points not shown because the series limit was reached.", nil, nil)
	telemetryInstancesDesc = prometheus.NewDesc("strom_client_telemetry_instances",
		"Client instances this broker tracks for KIP-714 telemetry.", nil, nil)
)

type telemetrySeries struct {
	metric, software string
	sum              bool
}

// telemetryStore holds the exposed series. Its lock is never held with
// telemetry.mu's (record is called after the instance checks).
type telemetryStore struct {
	mu      sync.Mutex
	values  map[telemetrySeries]float64
	pushes  map[string]float64
	dropped float64
}

func newTelemetryStore() *telemetryStore {
	return &telemetryStore{values: map[telemetrySeries]float64{}, pushes: map[string]float64{}}
}

func cutLabel(s string) string {
	if len(s) > maxTelemetryLabelLen {
		return s[:maxTelemetryLabelLen]
	}
	return s
}

// record adds one push's points.
func (st *telemetryStore) record(software string, pts []otlpPoint) {
	st.mu.Lock()
	defer st.mu.Unlock()
	software = cutLabel(software)
	for _, p := range pts {
		k := telemetrySeries{metric: cutLabel(p.name), software: software, sum: p.sum && p.delta}
		if _, ok := st.values[k]; !ok && len(st.values) >= maxTelemetrySeries {
			st.dropped++
			continue
		}
		if k.sum {
			st.values[k] += p.value
		} else {
			st.values[k] = p.value
		}
	}
}

// pushed counts one PushTelemetry answer.
func (st *telemetryStore) pushed(errName string) {
	st.mu.Lock()
	st.pushes[errName]++
	st.mu.Unlock()
}

// telemetryCollector exports the store and the instance count.
type telemetryCollector struct{ t *telemetry }

func (c telemetryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{telemetryGaugeDesc, telemetrySumDesc, telemetryPushesDesc, telemetryDroppedDesc, telemetryInstancesDesc} {
		ch <- d
	}
}

func (c telemetryCollector) Collect(ch chan<- prometheus.Metric) {
	c.t.mu.Lock()
	n := len(c.t.instances)
	c.t.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(telemetryInstancesDesc, prometheus.GaugeValue, float64(n))
	st := c.t.store
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, v := range st.values {
		if k.sum {
			ch <- prometheus.MustNewConstMetric(telemetrySumDesc, prometheus.CounterValue, v, k.metric, k.software)
		} else {
			ch <- prometheus.MustNewConstMetric(telemetryGaugeDesc, prometheus.GaugeValue, v, k.metric, k.software)
		}
	}
	for e, v := range st.pushes {
		ch <- prometheus.MustNewConstMetric(telemetryPushesDesc, prometheus.CounterValue, v, e)
	}
	ch <- prometheus.MustNewConstMetric(telemetryDroppedDesc, prometheus.CounterValue, st.dropped)
}
