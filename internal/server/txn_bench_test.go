package server

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkTxnCommit measures one transaction of 10 records (begin,
// produce, commit with markers) on one broker with franz-go, under
// transaction version 2 (the default) and 1.
func BenchmarkTxnCommit(b *testing.B) {
	for _, tv := range []int16{2, 1} {
		b.Run(map[int16]string{1: "tv1", 2: "tv2"}[tv], func(b *testing.B) {
			_, addr := startTestServer(b, txnTestConfig, func(c *Config) { c.TransactionVersion = tv })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if _, err := kadmCreate(ctx, b, addr, "txn-bench", 1); err != nil {
				b.Fatal(err)
			}
			p := newClient(b, addr, kgo.TransactionalID("tx-bench"), kgo.DefaultProduceTopic("txn-bench"))
			recs := make([]*kgo.Record, 10)
			for i := range recs {
				recs[i] = &kgo.Record{Value: make([]byte, 100)}
			}
			b.ResetTimer()
			for b.Loop() {
				if err := p.BeginTransaction(); err != nil {
					b.Fatal(err)
				}
				if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					b.Fatal(err)
				}
				if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
