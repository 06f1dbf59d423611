package raftmeta

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestAlterClientQuotas: set, default entities, removal, snapshot round
// trip and the refusals of hostile values.
func TestAlterClientQuotas(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, baseLog(t))
	alice, def, app := "alice", "", "app"
	both := QuotaEntity{User: &alice, ClientID: &app}
	ip := "10.0.0.7"
	applyLog(t, f, [][]byte{
		cmd(t, cmdAlterClientQuotas, alterClientQuotasCmd{Entity: both, Ops: []QuotaOp{{Key: "producer_byte_rate", Value: 1024}}}),
		cmd(t, cmdAlterClientQuotas, alterClientQuotasCmd{Entity: QuotaEntity{User: &def}, Ops: []QuotaOp{{Key: "consumer_byte_rate", Value: 2048}}}),
		cmd(t, cmdAlterClientQuotas, alterClientQuotasCmd{Entity: QuotaEntity{IP: &ip}, Ops: []QuotaOp{{Key: "connection_creation_rate", Value: 5}}}),
	})
	s := f.current()
	if len(s.Quotas) != 3 || s.Quotas[both.QuotaKey()].Values["producer_byte_rate"] != 1024 ||
		s.Quotas[QuotaEntity{IP: &ip}.QuotaKey()].Values["connection_creation_rate"] != 5 {
		t.Fatalf("quotas %+v", s.Quotas)
	}
	if k := (QuotaEntity{IP: &def}).QuotaKey(); k == (QuotaEntity{User: &def}).QuotaKey() || k == (QuotaEntity{ClientID: &def}).QuotaKey() {
		t.Fatal("the default ip shares a key with another default")
	}
	if e := s.Quotas[QuotaEntity{User: &def}.QuotaKey()]; e.Entity.User == nil || *e.Entity.User != "" || e.Entity.ClientID != nil {
		t.Fatalf("default user entity %+v", e.Entity)
	}
	if (QuotaEntity{User: &def}).QuotaKey() == (QuotaEntity{ClientID: &def}).QuotaKey() {
		t.Fatal("default user and default client share a key")
	}
	g, _ := testFSM(t)
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, s)))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, g.current()), snapshotBytes(t, s)) {
		t.Fatal("snapshot round trip changed the quotas")
	}
	applyLog(t, f, [][]byte{cmd(t, cmdAlterClientQuotas, alterClientQuotasCmd{Entity: both, Ops: []QuotaOp{{Key: "producer_byte_rate", Remove: true}}})})
	if _, ok := f.current().Quotas[both.QuotaKey()]; ok || len(f.current().Quotas) != 2 {
		t.Fatalf("removed quota still stored: %+v", f.current().Quotas)
	}
	for _, bad := range []alterClientQuotasCmd{
		{Ops: []QuotaOp{{Key: "producer_byte_rate", Value: 1}}},
		{Entity: both, Ops: []QuotaOp{{Key: "producer_byte_rate", Value: -1}}},
		{Entity: both, Ops: []QuotaOp{{Key: "", Value: 1}}},
	} {
		if res := applyOne(t, f, cmd(t, cmdAlterClientQuotas, bad)); !errors.Is(res.err, ErrInvalidConfig) && !errors.Is(res.err, ErrCorruptCommand) {
			t.Fatalf("%+v: %v", bad, res.err)
		}
	}
}
