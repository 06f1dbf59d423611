package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Client quota metrics, as Kafka exposes each quota sensor
// (kafka.server:type=Produce|Fetch|Request,user=…,client-id=…) and
// jmx_exporter names them: the measured rate and the average throttle
// time handed out over the quota window. Only entities with a quota have
// sensors, so the labels stay bounded by the quotas configured (a default
// quota gives each active user or client id its own series); a sensor
// unused for quotaSensorExpiry is forgotten, as Kafka expires its quota
// sensors after an hour.

var (
	descProduceByteRate = newDesc("kafka_server_produce_byte_rate", "Producer bytes per second of a quota entity, over the quota window (Produce byte-rate).", "user", "client_id")
	descProduceThrottle = newDesc("kafka_server_produce_throttle_time", "Average produce throttle time of a quota entity, in ms, over the quota window (Produce throttle-time).", "user", "client_id")
	descFetchByteRate   = newDesc("kafka_server_fetch_byte_rate", "Consumer fetch bytes per second of a quota entity, over the quota window (Fetch byte-rate).", "user", "client_id")
	descFetchThrottle   = newDesc("kafka_server_fetch_throttle_time", "Average fetch throttle time of a quota entity, in ms, over the quota window (Fetch throttle-time).", "user", "client_id")
	descRequestTime     = newDesc("kafka_server_request_request_time", "Request handling time of a quota entity, as a percentage of one thread, over the quota window (Request request-time).", "user", "client_id")
	descRequestThrottle = newDesc("kafka_server_request_throttle_time", "Average request-quota throttle time of a quota entity, in ms, over the quota window (Request throttle-time).", "user", "client_id")
)

// quotaSensorExpiry is Kafka's quota sensor inactivity expiry.
const quotaSensorExpiry = time.Hour

// collect emits each live sensor's rate and average throttle time, and
// forgets the sensors idle for quotaSensorExpiry.
func (q *quotaSensors) collect(ch chan<- prometheus.Metric, rateDesc, throttleDesc *prometheus.Desc, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, s := range q.sensors {
		if now.Sub(s.used) > quotaSensorExpiry {
			delete(q.sensors, k)
			continue
		}
		rate, _ := s.rate.measure(now)
		thr := 0.0
		if n, _ := s.throttleCount.measure(now); n > 0 {
			sum, _ := s.throttleSum.measure(now)
			thr = sum / n // both per second over the same window: the ratio is the average
		}
		ch <- prometheus.MustNewConstMetric(rateDesc, prometheus.GaugeValue, max(rate, 0), s.user, s.client)
		ch <- prometheus.MustNewConstMetric(throttleDesc, prometheus.GaugeValue, thr, s.user, s.client)
	}
}

// collectQuotas emits the client quota metrics of the three quota types.
func (c *metricsCollector) collectQuotas(ch chan<- prometheus.Metric) {
	now := time.Now()
	c.s.produceQuota.collect(ch, descProduceByteRate, descProduceThrottle, now)
	c.s.fetchQuota.collect(ch, descFetchByteRate, descFetchThrottle, now)
	c.s.requestQuota.collect(ch, descRequestTime, descRequestThrottle, now)
}
