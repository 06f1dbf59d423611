package server

import (
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
)

// TestRateSensorThrottle: Kafka's padded window and throttle formula, on
// a clock the test controls.
func TestRateSensorThrottle(t *testing.T) {
	var s rateSensor
	t0 := time.Unix(1000, 0)
	s.record(t0, 12000)
	rate, window := s.measure(t0)
	if window != 10*time.Second || rate != 1200 {
		t.Fatalf("fresh sensor: rate %v over %v", rate, window)
	}
	if d := quotaThrottle(rate, 1000, window, byteThrottleLimit); d != 2*time.Second {
		t.Fatalf("throttle %v, want (1200-1000)/1000*10s = 2s", d)
	}
	if d := quotaThrottle(rate, 2000, window, byteThrottleLimit); d != 0 {
		t.Fatalf("under quota throttled %v", d)
	}
	if d := quotaThrottle(1e9, 1, window, byteThrottleLimit); d != quotaSamples*quotaSampleSize {
		t.Fatalf("unbounded throttle %v", d)
	}
	// Samples older than the window are forgotten.
	later := t0.Add(quotaSamples * quotaSampleSize)
	if rate, _ := s.measure(later); rate != 0 {
		t.Fatalf("expired samples still count: %v", rate)
	}
}

// TestResolveQuotaPrecedence: each of Kafka's eight levels wins over the
// ones after it, and defaults give each name its own sensor.
func TestResolveQuotaPrecedence(t *testing.T) {
	u, c, def := "alice", "app", ""
	levels := []raftmeta.QuotaEntity{
		{User: &u, ClientID: &c}, {User: &u, ClientID: &def}, {User: &u},
		{User: &def, ClientID: &c}, {User: &def, ClientID: &def}, {User: &def},
		{ClientID: &c}, {ClientID: &def},
	}
	for win := range levels {
		st := &raftmeta.State{Quotas: map[string]raftmeta.QuotaEntry{}}
		for i := win; i < len(levels); i++ {
			st.Quotas[levels[i].QuotaKey()] = raftmeta.QuotaEntry{Entity: levels[i], Values: map[string]float64{quotaProduceKey: float64(i + 1)}}
		}
		v, _, ok := resolveQuota(st, quotaProduceKey, u, c)
		if !ok || v != float64(win+1) {
			t.Fatalf("level %d set: got %v %v", win, v, ok)
		}
	}
	st := &raftmeta.State{Quotas: map[string]raftmeta.QuotaEntry{}}
	st.Quotas[levels[5].QuotaKey()] = raftmeta.QuotaEntry{Entity: levels[5], Values: map[string]float64{quotaProduceKey: 5}}
	_, ka, _ := resolveQuota(st, quotaProduceKey, "alice", c)
	_, kb, _ := resolveQuota(st, quotaProduceKey, "bob", c)
	if ka.QuotaKey() == kb.QuotaKey() {
		t.Fatal("a default user quota shares one sensor between users")
	}
	if _, _, ok := resolveQuota(st, quotaConsumeKey, u, c); ok {
		t.Fatal("a producer quota applies to consumers")
	}
}

// TestProducerQuotaThrottles: two franz-go producers, one whose client id
// has a producer_byte_rate. A first produce of 12 quota-seconds of bytes
// takes it over quota whatever the sub-second clock (throttle between 1 s
// and 2 s, Kafka's formula over a padded 10-11 s window): it gets
// throttle_time_ms > 0; the other client, same bytes, gets none.
func TestProducerQuotaThrottles(t *testing.T) {
	srv, addr := startTestServer(t)
	ctx := testCtx(t, 60*time.Second)
	adm := newAdmin(t, addr)
	if _, err := kadmCreate(ctx, t, addr, "q", 1); err != nil {
		t.Fatal(err)
	}
	slow := "slow"
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &slow}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 10000}},
	}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	throttles := map[string][]time.Duration{}
	var mu sync.Mutex
	value := make([]byte, 120000) // incompressible: the quota counts bytes as sent
	rand.Read(value)
	for _, id := range []string{"fast", "slow"} {
		hook := throttleHook(func(d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			throttles[id] = append(throttles[id], d)
		})
		cl := newClient(t, addr, kgo.ClientID(id), kgo.WithHooks(hook), kgo.DefaultProduceTopic("q"), kgo.ProducerBatchMaxBytes(1<<20))
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(throttles["fast"]) != 0 {
		t.Fatalf("unthrottled client throttled: %v", throttles["fast"])
	}
	if len(throttles["slow"]) != 1 || throttles["slow"][0] < time.Second || throttles["slow"][0] > 2*time.Second {
		t.Fatalf("throttled client: %v, want one throttle in [1s, 2s]", throttles["slow"])
	}
	m := series(t, srv.Metrics())
	if m["kafka_server_produce_byte_rate{client_id=slow,user=}"] < 10000 || m["kafka_server_produce_throttle_time{client_id=slow,user=}"] < 1000 {
		t.Fatalf("quota metrics of slow: byte rate %v, throttle time %v", m["kafka_server_produce_byte_rate{client_id=slow,user=}"], m["kafka_server_produce_throttle_time{client_id=slow,user=}"])
	}
	if _, ok := m["kafka_server_produce_byte_rate{client_id=fast,user=}"]; ok {
		t.Fatal("a client without a quota has a quota series")
	}
}

type throttleHook func(time.Duration)

func (h throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) { h(d) }

// TestConsumerQuotaThrottles: a Fetch whose answer takes a consumer over
// its consumer_byte_rate is answered empty with throttle_time_ms (Kafka's
// KIP-219 behaviour) and its bytes are not counted; the same Fetch from a
// client without a quota gets the records, unthrottled.
func TestConsumerQuotaThrottles(t *testing.T) {
	srv, addr := startTestServer(t)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "cq", 1); err != nil {
		t.Fatal(err)
	}
	value := make([]byte, 120000)
	rand.Read(value)
	p := newClient(t, addr, kgo.DefaultProduceTopic("cq"), kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err := p.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons := "cons"
	res, err := newAdmin(t, addr).AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &cons}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 10000}},
	}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	td, err := newAdmin(t, addr).ListTopics(ctx, "cq")
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(id string) *kmsg.FetchResponse {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MaxBytes, req.SessionEpoch = 12, -1, 1<<20, -1
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = "cq", td["cq"].ID
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes, fp.LogStartOffset = 1<<20, -1
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		resp, err := req.RequestWith(ctx, newClient(t, addr, kgo.ClientID(id)))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	free := fetch("free")
	if free.ThrottleMillis != 0 || len(free.Topics) != 1 || len(free.Topics[0].Partitions[0].RecordBatches) < len(value) {
		t.Fatalf("client without quota: throttle %d, %+v", free.ThrottleMillis, free.Topics)
	}
	got := fetch(cons)
	if got.ThrottleMillis < 1000 || got.ThrottleMillis > 2000 {
		t.Fatalf("throttle_time_ms %d, want (12000-10000)/10000 x 10-11 s", got.ThrottleMillis)
	}
	if len(got.Topics) != 0 || got.ErrorCode != 0 || got.SessionID != 0 {
		t.Fatalf("throttled fetch answered %+v (error %d, session %d), want empty", got.Topics, got.ErrorCode, got.SessionID)
	}
	// The bytes not sent are not counted (Kafka's unrecordQuotaSensor).
	m := series(t, srv.Metrics())
	if r, thr := m["kafka_server_fetch_byte_rate{client_id=cons,user=}"], m["kafka_server_fetch_throttle_time{client_id=cons,user=}"]; r != 0 || thr < 1000 {
		t.Fatalf("quota metrics of cons: byte rate %v (want 0: nothing was sent), throttle time %v", r, thr)
	}
}

// TestRequestQuotaThrottles: a client with a tiny request_percentage is
// throttled after a handful of requests (the hook sees throttle_time_ms,
// at most one sample as in Kafka), while a client without a quota making
// as many requests never is.
func TestRequestQuotaThrottles(t *testing.T) {
	srv, addr := startTestServer(t)
	ctx := testCtx(t, 60*time.Second)
	busy := "busy"
	res, err := newAdmin(t, addr).AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &busy}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "request_percentage", Value: 0.01}},
	}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	var mu sync.Mutex
	throttles := map[string][]time.Duration{}
	run := func(id string, n int, stop func() bool) int {
		hook := throttleHook(func(d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			throttles[id] = append(throttles[id], d)
		})
		cl := newClient(t, addr, kgo.ClientID(id), kgo.WithHooks(hook))
		i := 0
		for ; i < n && !stop(); i++ {
			if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl); err != nil {
				t.Fatal(err)
			}
		}
		return i
	}
	seen := func(id string) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return len(throttles[id]) > 0 }
	}
	n := run(busy, 5000, seen(busy))
	if !seen(busy)() {
		t.Fatalf("%d requests at request_percentage 0.01: never throttled", n)
	}
	t.Logf("request_percentage 0.01: throttled after %d Metadata requests", n)
	run("idle", n, func() bool { return false })
	mu.Lock()
	defer mu.Unlock()
	if len(throttles["idle"]) != 0 {
		t.Fatalf("client without quota throttled: %v", throttles["idle"])
	}
	if d := throttles[busy][0]; d <= 0 || d > time.Second {
		t.Fatalf("request throttle %v, want (0, 1s]", d)
	}
	m := series(t, srv.Metrics())
	if m["kafka_server_request_request_time{client_id=busy,user=}"] <= 0.0001 || m["kafka_server_request_throttle_time{client_id=busy,user=}"] <= 0 {
		t.Fatalf("request quota metrics of busy: %v %v", m["kafka_server_request_request_time{client_id=busy,user=}"], m["kafka_server_request_throttle_time{client_id=busy,user=}"])
	}
}

// TestConsumerQuotaProgress: a franz-go consumer over its
// consumer_byte_rate still reads everything, at the quota: its first fetch
// is capped at what the quota allows in a window (200 KB of 220 KB); the
// next ones would take it over and are answered empty with a throttle
// until the measured rate (over a window padded to 10 s, as Kafka's)
// allows the rest, about 11 s in all; no record is lost or repeated.
func TestConsumerQuotaProgress(t *testing.T) {
	srv, addr := startTestServer(t)
	ctx := testCtx(t, 60*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "cp", 1); err != nil {
		t.Fatal(err)
	}
	p := newClient(t, addr, kgo.DefaultProduceTopic("cp"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := make([]byte, 10000)
	for range 22 {
		rand.Read(value)
		if err := p.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cons := "capped"
	if res, err := newAdmin(t, addr).AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &cons}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 20000}},
	}}); err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	var mu sync.Mutex
	var throttles []time.Duration
	hook := throttleHook(func(d time.Duration) { mu.Lock(); defer mu.Unlock(); throttles = append(throttles, d) })
	c := newClient(t, addr, kgo.ClientID(cons), kgo.WithHooks(hook), kgo.ConsumeTopics("cp"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	start := time.Now()
	next := int64(0)
	for next < 22 {
		fs := c.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next {
				t.Fatalf("offset %d, want %d", r.Offset, next)
			}
			next++
		})
	}
	took := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("220 KB at consumer_byte_rate 20000: %v, throttles %v", took, throttles)
	if len(throttles) == 0 || took < 8*time.Second {
		t.Fatalf("read 220 KB at 20 KB/s (200 KB a padded window) in %v with throttles %v: not held to the quota", took, throttles)
	}
	if r := series(t, srv.Metrics())["kafka_server_fetch_byte_rate{client_id=capped,user=}"]; r > 20000*1.1 {
		t.Fatalf("consumer measured at %v B/s, quota 20000", r)
	}
}
