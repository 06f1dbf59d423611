package raftmeta

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func testCred(b byte) ScramCredential {
	return ScramCredential{Salt: []byte{b, 1}, Iterations: 4096, StoredKey: []byte{b, 2}, ServerKey: []byte{b, 3}}
}

func TestScramApplyAndSnapshot(t *testing.T) {
	f, _ := testFSM(t)
	applyLog(t, f, [][]byte{
		cmd(t, cmdAlterScramCredentials, alterScramCredentialsCmd{Upserts: []ScramUpsert{
			{User: "alice", Mechanism: ScramSHA256, Credential: testCred(1)},
			{User: "alice", Mechanism: ScramSHA512, Credential: testCred(2)},
			{User: "bob", Mechanism: ScramSHA512, Credential: testCred(3)},
		}}),
	})
	before := f.current()
	applyLog(t, f, [][]byte{
		cmd(t, cmdAlterScramCredentials, alterScramCredentialsCmd{
			Deletions: []ScramDeletion{{User: "bob", Mechanism: ScramSHA512}, {User: "alice", Mechanism: ScramSHA256}},
			Upserts:   []ScramUpsert{{User: "carol", Mechanism: ScramSHA256, Credential: testCred(4)}},
		}),
	})
	s := f.current()
	if got := s.ScramUsers(); !reflect.DeepEqual(got, []string{"alice", "carol"}) {
		t.Fatalf("users %v", got)
	}
	if _, ok := s.ScramCredential("alice", ScramSHA256); ok {
		t.Fatal("deleted credential still there")
	}
	if c, ok := s.ScramCredential("alice", ScramSHA512); !ok || !reflect.DeepEqual(c, testCred(2)) {
		t.Fatalf("alice SHA-512 = %+v %v", c, ok)
	}
	// The earlier state is untouched (states are immutable).
	if _, ok := before.ScramCredential("bob", ScramSHA512); !ok || len(before.Scram["alice"]) != 2 {
		t.Fatal("apply mutated the previous state")
	}

	snap, _ := f.Snapshot()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sink.Bytes(), []byte("password")) {
		t.Fatal("snapshot mentions a password")
	}
	dst, _ := testFSM(t)
	if err := dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dst.current().Scram, s.Scram) {
		t.Fatalf("restored %+v, want %+v", dst.current().Scram, s.Scram)
	}
}

func TestScramValidate(t *testing.T) {
	bad := func(u ScramUpsert) alterScramCredentialsCmd {
		return alterScramCredentialsCmd{Upserts: []ScramUpsert{u}}
	}
	low := testCred(1)
	low.Iterations = 4095
	high := testCred(1)
	high.Iterations = 16385
	noKey := testCred(1)
	noKey.StoredKey = nil
	for name, c := range map[string]alterScramCredentialsCmd{
		"unknown mechanism": bad(ScramUpsert{User: "a", Mechanism: "SCRAM-SHA-1", Credential: testCred(1)}),
		"empty user":        bad(ScramUpsert{User: "", Mechanism: ScramSHA256, Credential: testCred(1)}),
		"low iterations":    bad(ScramUpsert{User: "a", Mechanism: ScramSHA256, Credential: low}),
		"high iterations":   bad(ScramUpsert{User: "a", Mechanism: ScramSHA256, Credential: high}),
		"no stored key":     bad(ScramUpsert{User: "a", Mechanism: ScramSHA256, Credential: noKey}),
		"delete bad mech":   {Deletions: []ScramDeletion{{User: "a", Mechanism: "PLAIN"}}},
	} {
		f, _ := testFSM(t)
		if next, res := applyCommand(f.current(), 1, cmd(t, cmdAlterScramCredentials, c)); next != nil || !errors.Is(res.err, ErrInvalidScramCredential) {
			t.Errorf("%s: next %v err %v", name, next != nil, res.err)
		}
	}
}

// TestClusterForwardScram writes credentials through a follower: the call
// reaches the controller and the follower reads its own write.
func TestClusterForwardScram(t *testing.T) {
	nodes, leader := startCluster3(t)
	f := followersOf(nodes, leader)[0]
	if err := f.AlterScramCredentials(ctxT(t), nil, []ScramUpsert{{User: "alice", Mechanism: ScramSHA512, Credential: testCred(9)}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.State().ScramCredential("alice", ScramSHA512); !ok {
		t.Fatal("follower does not see its write")
	}
	err := f.AlterScramCredentials(ctxT(t), nil, []ScramUpsert{{User: "alice", Mechanism: "MD5", Credential: testCred(9)}})
	if !errors.Is(err, ErrInvalidScramCredential) {
		t.Fatalf("bad mechanism through a follower: %v", err)
	}
}
