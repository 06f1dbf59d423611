package raftmeta

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestUpdateFeatures: levels are set all at once, the epoch counts the
// changes, a change computed from an older epoch loses, snapshots keep
// both, and hostile levels are refused.
func TestUpdateFeatures(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, baseLog(t))
	if _, ok := f.current().FeatureLevel("transaction.version"); ok || f.current().FeaturesEpoch != 0 {
		t.Fatal("a fresh state has finalized features")
	}
	applyLog(t, f, [][]byte{cmd(t, cmdUpdateFeatures, updateFeaturesCmd{Levels: map[string]int16{"transaction.version": 1, "group.version": 0}})})
	s := f.current()
	if l, ok := s.FeatureLevel("transaction.version"); !ok || l != 1 || s.FeaturesEpoch != 1 {
		t.Fatalf("features %v epoch %d", s.Features, s.FeaturesEpoch)
	}
	if l, ok := s.FeatureLevel("group.version"); !ok || l != 0 {
		t.Fatalf("a level of 0 is not kept as set: %v", s.Features)
	}
	if res := applyOne(t, f, cmd(t, cmdUpdateFeatures, updateFeaturesCmd{Levels: map[string]int16{"transaction.version": 2}, Epoch: 0})); !errors.Is(res.err, ErrStaleFeatures) {
		t.Fatalf("stale change: %v", res.err)
	}
	g, _ := testFSM(t)
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, s)))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, g.current()), snapshotBytes(t, s)) || g.current().FeaturesEpoch != 1 {
		t.Fatal("snapshot round trip changed the features")
	}
	for _, bad := range []updateFeaturesCmd{
		{Epoch: 1},
		{Levels: map[string]int16{"": 1}, Epoch: 1},
		{Levels: map[string]int16{"x": -1}, Epoch: 1},
	} {
		if res := applyOne(t, f, cmd(t, cmdUpdateFeatures, bad)); !errors.Is(res.err, ErrInvalidConfig) {
			t.Fatalf("%+v: %v", bad, res.err)
		}
	}
}

// TestAlterClientMetrics: subscriptions are set, changed, deleted with
// their last config, and survive a snapshot.
func TestAlterClientMetrics(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, baseLog(t))
	v, iv := "org.apache.kafka.producer.", "1000"
	applyLog(t, f, [][]byte{
		cmd(t, cmdAlterClientMetrics, alterClientMetricsCmd{Name: "sub", Ops: []ConfigOp{{Key: "metrics", Value: &v}, {Key: "interval.ms", Value: &iv}}}),
		cmd(t, cmdAlterClientMetrics, alterClientMetricsCmd{Name: "other", Ops: []ConfigOp{{Key: "metrics", Value: &v}}}),
	})
	s := f.current()
	if len(s.ClientMetrics) != 2 || s.ClientMetrics["sub"]["interval.ms"] != "1000" {
		t.Fatalf("client metrics %v", s.ClientMetrics)
	}
	g, _ := testFSM(t)
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, s)))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, g.current()), snapshotBytes(t, s)) {
		t.Fatal("snapshot round trip changed the client metrics")
	}
	applyLog(t, f, [][]byte{cmd(t, cmdAlterClientMetrics, alterClientMetricsCmd{Name: "other", Ops: []ConfigOp{{Key: "metrics"}}})})
	if _, ok := f.current().ClientMetrics["other"]; ok || len(f.current().ClientMetrics) != 1 {
		t.Fatalf("emptied subscription still stored: %v", f.current().ClientMetrics)
	}
	if res := applyOne(t, f, cmd(t, cmdAlterClientMetrics, alterClientMetricsCmd{Ops: []ConfigOp{{Key: "metrics", Value: &v}}})); !errors.Is(res.err, ErrInvalidConfig) {
		t.Fatalf("nameless subscription: %v", res.err)
	}
}

// TestDelegationTokens: put, renew (put again), prune and remove, and a
// snapshot round trip.
func TestDelegationTokens(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, baseLog(t))
	tok := DelegationToken{TokenID: "t1", Owner: "User:alice", Requester: "User:alice", Renewers: []string{"User:bob"}, IssueMs: 1, MaxMs: 100, ExpiryMs: 50}
	old := DelegationToken{TokenID: "t0", Owner: "User:alice", IssueMs: 1, MaxMs: 10, ExpiryMs: 5}
	applyLog(t, f, [][]byte{cmd(t, cmdDelegationToken, delegationTokenCmd{Put: &old}), cmd(t, cmdDelegationToken, delegationTokenCmd{Put: &tok, PruneBefore: 6})})
	s := f.current()
	if len(s.Tokens) != 1 || s.Tokens["t1"].Renewers[0] != "User:bob" {
		t.Fatalf("tokens %+v", s.Tokens)
	}
	g, _ := testFSM(t)
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, s)))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, g.current()), snapshotBytes(t, s)) {
		t.Fatal("snapshot round trip changed the tokens")
	}
	applyLog(t, f, [][]byte{cmd(t, cmdDelegationToken, delegationTokenCmd{Remove: "t1"})})
	if f.current().Tokens != nil {
		t.Fatalf("removed token kept: %+v", f.current().Tokens)
	}
	bad := tok
	bad.ExpiryMs = 101
	if res := applyOne(t, f, cmd(t, cmdDelegationToken, delegationTokenCmd{Put: &bad})); !errors.Is(res.err, ErrInvalidConfig) {
		t.Fatalf("expiry past max: %v", res.err)
	}
}
