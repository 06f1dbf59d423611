package raftmeta

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestAlterGroupConfigs(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, baseLog(t))
	earliest := "earliest"
	applyLog(t, f, [][]byte{
		cmd(t, cmdAlterGroupConfigs, alterGroupConfigsCmd{Group: "g", Ops: []ConfigOp{{Key: "share.auto.offset.reset", Value: &earliest}}}),
	})
	s := f.current()
	if v := s.GroupConfigs["g"]["share.auto.offset.reset"]; v != earliest {
		t.Fatalf("group g: %q", v)
	}
	g, _ := testFSM(t)
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, s)))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, g.current()), snapshotBytes(t, s)) {
		t.Fatal("snapshot round trip changed the group configs")
	}
	applyLog(t, f, [][]byte{cmd(t, cmdAlterGroupConfigs, alterGroupConfigsCmd{Group: "g", Ops: []ConfigOp{{Key: "share.auto.offset.reset"}}})})
	if f.current().GroupConfigs != nil {
		t.Fatalf("deleted config still set: %v", f.current().GroupConfigs)
	}
	if res := applyOne(t, f, cmd(t, cmdAlterGroupConfigs, alterGroupConfigsCmd{Group: ""})); !errors.Is(res.err, ErrInvalidConfig) {
		t.Fatalf("empty group id: %v", res.err)
	}
}
