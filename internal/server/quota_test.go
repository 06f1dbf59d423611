package server

import (
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

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
	if d := quotaThrottle(rate, 1000, window); d != 2*time.Second {
		t.Fatalf("throttle %v, want (1200-1000)/1000*10s = 2s", d)
	}
	if d := quotaThrottle(rate, 2000, window); d != 0 {
		t.Fatalf("under quota throttled %v", d)
	}
	if d := quotaThrottle(1e9, 1, window); d != quotaSamples*quotaSampleSize {
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
	if ka == kb {
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
	_, addr := startTestServer(t)
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
}

type throttleHook func(time.Duration)

func (h throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) { h(d) }

// TestConsumerQuotaThrottles: a consumer whose client id has a
// consumer_byte_rate, fetching 12 quota-seconds of records, is throttled;
// a replica-free single broker, so only the consumer's fetch counts.
func TestConsumerQuotaThrottles(t *testing.T) {
	_, addr := startTestServer(t)
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
	var mu sync.Mutex
	var throttles []time.Duration
	hook := throttleHook(func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		throttles = append(throttles, d)
	})
	c := newClient(t, addr, kgo.ClientID(cons), kgo.WithHooks(hook), kgo.ConsumeTopics("cq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for got := 0; got < 1; {
		fs := c.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(throttles) != 1 || throttles[0] < time.Second || throttles[0] > 2*time.Second {
		t.Fatalf("consumer throttles %v, want one in [1s, 2s]", throttles)
	}
}
