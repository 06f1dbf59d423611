package server

import (
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// TestClientQuotasKafkaGo: segmentio/kafka-go's AlterClientQuotas and
// DescribeClientQuotas get real answers.
func TestClientQuotasKafkaGo(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	cl := &kafkago.Client{Addr: kafkago.TCP(addr)}
	ent := []kafkago.AlterClientQuotaEntity{{EntityType: "user", EntityName: "alice"}, {EntityType: "client-id", EntityName: "app"}}
	ar, err := cl.AlterClientQuotas(ctx, &kafkago.AlterClientQuotasRequest{Entries: []kafkago.AlterClientQuotaEntry{{
		Entities: ent, Ops: []kafkago.AlterClientQuotaOps{{Key: "producer_byte_rate", Value: 4096}},
	}}})
	if err != nil || len(ar.Entries) != 1 || ar.Entries[0].Error != nil {
		t.Fatalf("alter: %+v %v", ar, err)
	}
	dr, err := cl.DescribeClientQuotas(ctx, &kafkago.DescribeClientQuotasRequest{Components: []kafkago.DescribeClientQuotasRequestComponent{{EntityType: "user", MatchType: 0, Match: "alice"}}})
	if err != nil || dr.Error != nil || len(dr.Entries) != 1 || len(dr.Entries[0].Values) != 1 || dr.Entries[0].Values[0].Value != 4096 {
		t.Fatalf("describe: %+v %v", dr, err)
	}
	ar, err = cl.AlterClientQuotas(ctx, &kafkago.AlterClientQuotasRequest{Entries: []kafkago.AlterClientQuotaEntry{{
		Entities: ent, Ops: []kafkago.AlterClientQuotaOps{{Key: "nonsense", Value: 1}},
	}}})
	if err != nil || len(ar.Entries) != 1 || ar.Entries[0].Error == nil {
		t.Fatalf("alter with an unknown key: %+v %v", ar, err)
	}
}
