package server

import (
	"context"
	"crypto/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkProducerQuota measures the "done when": a producer over
// its producer_byte_rate is held to the quota while another producer on
// the same broker is not. Two franz-go producers write 16 KiB uncompressed
// records as fast as they are acknowledged; the client id "slow" has
// producer_byte_rate = QUOTA_BPS (default 1 MiB/s). Bytes acknowledged are
// counted after a warm-up of one quota window plus (QUOTA_WARMUP_S,
// default 15 s: Kafka's padded window lets a new client burst ten
// quota-seconds first) over QUOTA_MEASURE_S (default 33 s: three windows,
// as the rate is a sawtooth with the window's period). Reported:
// slow-B/s, slow/quota and fast-B/s. Run once:
//
//	go test ./internal/server -run XXX -bench ProducerQuota -benchtime 1x
func BenchmarkProducerQuota(b *testing.B) {
	quota := envInt("QUOTA_BPS", 1<<20)
	warm := time.Duration(envInt("QUOTA_WARMUP_S", 15)) * time.Second
	measure := time.Duration(envInt("QUOTA_MEASURE_S", 33)) * time.Second
	_, addr := startTestServer(b)
	ctx := testCtx(b, warm+measure+time.Minute)
	for _, topic := range []string{"qb-slow", "qb-fast"} {
		if _, err := kadmCreate(ctx, b, addr, topic, 1); err != nil {
			b.Fatal(err)
		}
	}
	slow := "slow"
	if _, err := newAdmin(b, addr).AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &slow}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: float64(quota)}},
	}}); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 16<<10)
	rand.Read(value)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, id := range []string{"slow", "fast"} {
		cl := newClient(b, addr, kgo.ClientID(id), kgo.DefaultProduceTopic("qb-"+id), kgo.MaxBufferedRecords(64), kgo.ProducerBatchCompression(kgo.NoCompression()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				cl.Produce(runCtx, &kgo.Record{Value: value}, nil)
			}
		}()
	}
	adm := newAdmin(b, addr)
	b.ResetTimer()
	time.Sleep(warm) // a benchmark's wall-clock phases, not synchronisation
	before := endOffsets(ctx, b, adm)
	time.Sleep(measure)
	after := endOffsets(ctx, b, adm)
	stop()
	wg.Wait()
	rate := func(id string) float64 {
		return float64((after[id]-before[id])*int64(len(value))) / measure.Seconds()
	}
	b.ReportMetric(rate("slow"), "slow-B/s")
	b.ReportMetric(rate("slow")/float64(quota), "slow/quota")
	b.ReportMetric(rate("fast"), "fast-B/s")
}

// endOffsets is the log end offset of qb-slow and qb-fast, by client id.
func endOffsets(ctx context.Context, b *testing.B, adm *kadm.Client) map[string]int64 {
	offs, err := adm.ListEndOffsets(ctx, "qb-slow", "qb-fast")
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]int64{}
	offs.Each(func(o kadm.ListedOffset) { out[strings.TrimPrefix(o.Topic, "qb-")] = o.Offset })
	return out
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkRequestQuota measures request_percentage: two franz-go clients
// send Metadata requests back to back; the client id "busy" has
// request_percentage = QUOTA_PCT (default 5, i.e. 5 % of one request
// handling thread). After QUOTA_WARMUP_S (default 15 s) the requests of
// each are counted over QUOTA_MEASURE_S (default 22 s). Reported: busy and
// free requests/s, and busy's handling time as a percentage of one thread
// (its kafka_server_request_request_time at the end) over the quota.
//
//	go test ./internal/server -run XXX -bench RequestQuota -benchtime 1x
func BenchmarkRequestQuota(b *testing.B) {
	quota := float64(envInt("QUOTA_PCT", 5))
	warm := time.Duration(envInt("QUOTA_WARMUP_S", 15)) * time.Second
	measure := time.Duration(envInt("QUOTA_MEASURE_S", 22)) * time.Second
	srv, addr := startTestServer(b)
	ctx := testCtx(b, warm+measure+time.Minute)
	busy := "busy"
	if _, err := newAdmin(b, addr).AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &busy}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "request_percentage", Value: quota}},
	}}); err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var counts [2]atomic.Int64
	for i, id := range []string{"busy", "free"} {
		cl := newClient(b, addr, kgo.ClientID(id))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				if _, err := kmsg.NewPtrMetadataRequest().RequestWith(runCtx, cl); err == nil {
					counts[i].Add(1)
				}
			}
		}()
	}
	b.ResetTimer()
	time.Sleep(warm) // a benchmark's wall-clock phases, not synchronisation
	before := [2]int64{counts[0].Load(), counts[1].Load()}
	time.Sleep(measure)
	after := [2]int64{counts[0].Load(), counts[1].Load()}
	pct := series(b, srv.Metrics())["kafka_server_request_request_time{client_id=busy,user=}"]
	stop()
	wg.Wait()
	b.ReportMetric(float64(after[0]-before[0])/measure.Seconds(), "busy-req/s")
	b.ReportMetric(float64(after[1]-before[1])/measure.Seconds(), "free-req/s")
	b.ReportMetric(pct/quota, "busy-time/quota")
}
