package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/wire"
)

// alterClientMetrics runs one IncrementalAlterConfigs on a CLIENT_METRICS
// resource; ops are (op, key, value) triples.
func alterClientMetrics(t *testing.T, addr, name string, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) error {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName, res.Configs = kmsg.ConfigResourceTypeClientMetrics, name, ops
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	return kerr.ErrorForCode(resp.Resources[0].ErrorCode)
}

// setClientMetrics sets configs (key, value pairs) of a CLIENT_METRICS
// resource.
func setClientMetrics(t *testing.T, addr, name string, kv ...string) error {
	t.Helper()
	var ops []kmsg.IncrementalAlterConfigsRequestResourceConfig
	for i := 0; i+1 < len(kv); i += 2 {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Op, c.Name, c.Value = kmsg.IncrementalAlterConfigOpSet, kv[i], kmsg.StringPtr(kv[i+1])
		ops = append(ops, c)
	}
	return alterClientMetrics(t, addr, name, ops...)
}

// TestTelemetryFranzGoPushes: a real franz-go client subscribed by a
// CLIENT_METRICS resource pushes its metrics, which show on /metrics
// under bounded labels.
func TestTelemetryFranzGoPushes(t *testing.T) {
	s, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	if err := setClientMetrics(t, addr, "everything", "metrics", "*", "interval.ms", "1000", "match", "client_id=telemetry-test"); err != nil {
		t.Fatal(err)
	}
	if _, err := kadmCreate(ctx, t, addr, "telemetry-topic", 1); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, addr, kgo.DefaultProduceTopic("telemetry-topic"), kgo.ClientID("telemetry-test"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		got := series(t, s.Metrics())
		var pushed []string
		for k := range got {
			if strings.HasPrefix(k, "strom_client_metrics_") && strings.Contains(k, "client_software_name=") {
				pushed = append(pushed, k)
			}
		}
		if len(pushed) > 0 && got["strom_client_telemetry_pushes_total{error=NONE}"] >= 1 {
			if got["strom_client_telemetry_instances{}"] < 1 {
				t.Fatalf("no instance counted: %v", got)
			}
			for k, v := range got {
				if strings.HasPrefix(k, "strom_client_telemetry_pushes_total") && k != "strom_client_telemetry_pushes_total{error=NONE}" && v > 0 {
					t.Fatalf("a push was refused: %s = %v", k, v)
				}
			}
			t.Logf("pushed series: %v", pushed)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pushed metrics on /metrics: %v", got)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition with a deadline
	}
}

// rawTelemetryConn is a raw connection that announced itself as software
// "raw-client" version 1.
func rawTelemetryConn(t *testing.T, addr string) *wire.Client {
	t.Helper()
	c := dialRaw(t, addr)
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version, av.ClientSoftwareName, av.ClientSoftwareVersion = 3, "raw-client", "1"
	if _, err := c.Request(testCtx(t, 5*time.Second), av); err != nil {
		t.Fatal(err)
	}
	return c
}

func getSubs(t *testing.T, c *wire.Client, id [16]byte) *kmsg.GetTelemetrySubscriptionsResponse {
	t.Helper()
	req := kmsg.NewPtrGetTelemetrySubscriptionsRequest()
	req.ClientInstanceID = id
	resp, err := c.Request(testCtx(t, 5*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*kmsg.GetTelemetrySubscriptionsResponse)
}

func push(t *testing.T, c *wire.Client, id [16]byte, sub int32, terminating bool, codec int8, payload []byte) error {
	t.Helper()
	req := kmsg.NewPtrPushTelemetryRequest()
	req.ClientInstanceID, req.SubscriptionID, req.Terminating, req.CompressionType, req.Metrics = id, sub, terminating, codec, payload
	resp, err := c.Request(testCtx(t, 5*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	return kerr.ErrorForCode(resp.(*kmsg.PushTelemetryResponse).ErrorCode)
}

// TestTelemetryRules: matching, subscription ids, pacing and the push
// errors, in Kafka's order.
func TestTelemetryRules(t *testing.T) {
	_, addr := startTestServer(t, func(c *Config) { c.TelemetryMaxBytes = 64 })
	if err := setClientMetrics(t, addr, "raw", "metrics", "org.apache.kafka.producer.,org.apache.kafka.consumer.", "interval.ms", "60000", "match", "client_software_name=raw-.*,client_software_version=1"); err != nil {
		t.Fatal(err)
	}
	if err := setClientMetrics(t, addr, "others", "metrics", "*", "interval.ms", "100", "match", "client_software_name=other"); err != nil {
		t.Fatal(err)
	}
	c := rawTelemetryConn(t, addr)
	g := getSubs(t, c, [16]byte{})
	id := g.ClientInstanceID
	if g.ErrorCode != 0 || id == [16]byte{} || g.PushIntervalMillis != 60000 || len(g.RequestedMetrics) != 2 || !g.DeltaTemporality || g.TelemetryMaxBytes != 64 {
		t.Fatalf("subscription %+v", g)
	}
	if g.SubscriptionID != subscriptionID(g.RequestedMetrics, 60000, id) {
		t.Fatalf("subscription id %d", g.SubscriptionID)
	}
	if again := getSubs(t, c, id); again.ErrorCode != kerr.ThrottlingQuotaExceeded.Code {
		t.Fatalf("early get: %v", kerr.ErrorForCode(again.ErrorCode))
	}
	// Pacing: the first push after a Get is accepted whatever its
	// errors, the next one only an interval later, unless terminating.
	if err := push(t, c, id, g.SubscriptionID+1, false, 0, nil); err != kerr.UnknownSubscriptionID {
		t.Fatalf("wrong subscription: %v", err)
	}
	if err := push(t, c, id, g.SubscriptionID, false, 0, nil); err != kerr.ThrottlingQuotaExceeded {
		t.Fatalf("too early: %v", err)
	}
	if err := push(t, c, id, g.SubscriptionID, true, 0, nil); err != nil {
		t.Fatalf("terminating: %v", err)
	}
	if err := push(t, c, id, g.SubscriptionID, true, 0, nil); err != kerr.InvalidRequest {
		t.Fatalf("after terminating: %v", err)
	}
	// Each payload check on a fresh instance (pushing right after its Get).
	for _, tc := range []struct {
		name    string
		codec   int8
		payload []byte
		want    error
	}{
		{"bad codec", 9, nil, kerr.UnsupportedCompressionType},
		{"too large", 0, make([]byte, 65), kerr.TelemetryTooLarge},
		{"not OTLP", 0, []byte{0xff, 0xff, 0xff}, kerr.InvalidRecord},
		{"bad gzip", 1, []byte("not gzip"), kerr.InvalidRecord},
		{"empty", 0, nil, nil},
	} {
		f := getSubs(t, c, [16]byte{})
		if err := push(t, c, f.ClientInstanceID, f.SubscriptionID, false, tc.codec, tc.payload); err != tc.want {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := push(t, c, [16]byte{}, 0, false, 0, nil); err != kerr.InvalidRequest {
		t.Fatalf("zero instance id: %v", err)
	}

	// A subscription change re-evaluates the instance at once.
	if err := setClientMetrics(t, addr, "raw", "interval.ms", "5000", "metrics", "*"); err != nil {
		t.Fatal(err)
	}
	g2 := getSubs(t, c, id)
	if g2.ErrorCode != 0 || g2.PushIntervalMillis != 5000 || len(g2.RequestedMetrics) != 1 || g2.RequestedMetrics[0] != "" || g2.SubscriptionID == g.SubscriptionID {
		t.Fatalf("after the change (match selectors now gone): %+v", g2)
	}
}

// TestClientMetricsConfigs: validation, DescribeConfigs, deletion.
func TestClientMetricsConfigs(t *testing.T) {
	_, addr := startTestServer(t)
	for name, kv := range map[string][]string{
		"unknown key":    {"metrics.x", "a"},
		"interval low":   {"interval.ms", "99"},
		"interval high":  {"interval.ms", "3600001"},
		"interval bad":   {"interval.ms", "soon"},
		"bad selector":   {"match", "client_colour=red"},
		"bad regex":      {"match", "client_id=("},
		"no selector eq": {"match", "client_id"},
	} {
		err := setClientMetrics(t, addr, "sub", kv...)
		if err == nil || (err != kerr.InvalidRequest && err != kerr.InvalidConfig) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := setClientMetrics(t, addr, "sub", "metrics", "a.,b.", "interval.ms", "1000"); err != nil {
		t.Fatal(err)
	}
	dreq := kmsg.NewPtrDescribeConfigsRequest()
	dres := kmsg.NewDescribeConfigsRequestResource()
	dres.ResourceType, dres.ResourceName = kmsg.ConfigResourceTypeClientMetrics, "sub"
	dreq.Resources = append(dreq.Resources, dres)
	dresp, err := dreq.RequestWith(testCtx(t, 10*time.Second), newClient(t, addr))
	if err != nil || len(dresp.Resources) != 1 || dresp.Resources[0].ErrorCode != 0 {
		t.Fatalf("describe: %v %+v", err, dresp)
	}
	got := map[string]string{}
	for _, c := range dresp.Resources[0].Configs {
		got[c.Name] = *c.Value
	}
	if got["metrics"] != "a.,b." || got["interval.ms"] != "1000" || got["match"] != "" || len(got) != 3 {
		t.Fatalf("described %v", got)
	}
	if listed := listConfigResources(t, addr, 0); len(listed) != 1 || listed["sub"] != int8(kmsg.ConfigResourceTypeClientMetrics) {
		t.Fatalf("listed %v", listed)
	}
	del := func(k string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Op, c.Name = kmsg.IncrementalAlterConfigOpDelete, k
		return c
	}
	if err := alterClientMetrics(t, addr, "sub", del("metrics"), del("interval.ms")); err != nil {
		t.Fatalf("delete: %v", err)
	}
	listed := listConfigResources(t, addr, 0)
	if len(listed) != 0 {
		t.Fatalf("deleted subscription still listed: %v", listed)
	}
}

// listConfigResources lists config resources with ListConfigResources at
// version v (v1: of the types given).
func listConfigResources(t *testing.T, addr string, v int16, types ...int8) map[string]int8 {
	t.Helper()
	req := kmsg.NewPtrListConfigResourcesRequest()
	req.Version, req.ResourceTypes = v, types
	resp, err := dialRaw(t, addr).Request(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.(*kmsg.ListConfigResourcesResponse)
	if r.ErrorCode != 0 {
		t.Fatalf("list: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	out := map[string]int8{}
	for _, c := range r.ConfigResources {
		out[c.Name] = c.Type
	}
	return out
}

// TestListConfigResources: v1 lists topics, brokers and client metrics,
// of the requested types or all; an unknown type is refused.
func TestListConfigResources(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 10*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "lcr-topic", 1); err != nil {
		t.Fatal(err)
	}
	if err := setClientMetrics(t, addr, "lcr-sub", "metrics", "*"); err != nil {
		t.Fatal(err)
	}
	all := listConfigResources(t, addr, 1)
	if all["lcr-topic"] != int8(kmsg.ConfigResourceTypeTopic) || all["1"] != int8(kmsg.ConfigResourceTypeBroker) || all["lcr-sub"] != int8(kmsg.ConfigResourceTypeClientMetrics) {
		t.Fatalf("all: %v", all)
	}
	if topics := listConfigResources(t, addr, 1, int8(kmsg.ConfigResourceTypeTopic)); topics["lcr-topic"] == 0 || len(topics) != len(newTopicsOnly(all)) {
		t.Fatalf("topics: %v", topics)
	}
	if v0 := listConfigResources(t, addr, 0); len(v0) != 1 || v0["lcr-sub"] == 0 {
		t.Fatalf("v0: %v", v0)
	}
	res, err := newAdmin(t, addr).ListConfigResources(ctx, kadm.ConfigResourceType(99))
	if err != nil || res.Err != kerr.UnsupportedVersion {
		t.Fatalf("unknown type: %v %v", err, res.Err)
	}
}

// newTopicsOnly keeps the TOPIC entries of a listing.
func newTopicsOnly(m map[string]int8) map[string]int8 {
	out := map[string]int8{}
	for k, v := range m {
		if v == int8(kmsg.ConfigResourceTypeTopic) {
			out[k] = v
		}
	}
	return out
}

// TestTelemetryInstanceBounds: idle instances are forgotten after
// max(60 s, 3 intervals); a full cache evicts the least recently seen.
func TestTelemetryInstanceBounds(t *testing.T) {
	tm := newTelemetry()
	req := &wire.Request{Conn: &wire.ConnInfo{}}
	now := time.Now()
	old := tm.instance([16]byte{1}, req, now.Add(-2*time.Minute))
	if old.interval != cmDefaultInterval*time.Millisecond {
		t.Fatalf("interval %v", old.interval)
	}
	tm.lastSweep = time.Time{}
	tm.instance([16]byte{2}, req, now) // 2 min idle < 3 × 5 min: kept
	if len(tm.instances) != 2 {
		t.Fatalf("%d instances", len(tm.instances))
	}
	old.interval = 10 * time.Second // now 2 min idle > 60 s
	tm.lastSweep = time.Time{}
	tm.instance([16]byte{3}, req, now)
	if _, ok := tm.instances[[16]byte{1}]; ok || len(tm.instances) != 2 {
		t.Fatalf("idle instance kept: %d instances", len(tm.instances))
	}
	for i := range maxTelemetryInstances {
		var id [16]byte
		id[0], id[1], id[2] = 9, byte(i), byte(i>>8)
		tm.instance(id, req, now.Add(time.Duration(i+1)*time.Microsecond))
	}
	if len(tm.instances) != maxTelemetryInstances {
		t.Fatalf("%d instances, cap %d", len(tm.instances), maxTelemetryInstances)
	}
	if _, ok := tm.instances[[16]byte{2}]; ok {
		t.Fatal("the least recently seen instance was not evicted")
	}
}
