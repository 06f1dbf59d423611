package raftmeta

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
)

func testACL(name, principal string, op int8) ACL {
	return ACL{ResourceType: 2, ResourceName: name, PatternType: 3, Principal: principal, Host: "*", Operation: op, Permission: 3}
}

func TestFSMACLs(t *testing.T) {
	f, _ := testFSM(t)
	a, b, c := testACL("t", "User:a", 3), testACL("t", "User:b", 4), testACL("g", "User:a", 8)
	c.ResourceType = 3
	applyLog(t, f, append(baseLog(t),
		cmd(t, cmdCreateACLs, createACLsCmd{ACLs: []ACL{c, b, a}}),
		cmd(t, cmdCreateACLs, createACLsCmd{ACLs: []ACL{a}}), // already there: no change
	))
	want := []ACL{a, b, c} // sorted: topic (2) before group (3), then principal
	if got := f.current().ACLs; !reflect.DeepEqual(got, want) {
		t.Fatalf("ACLs = %v, want %v", got, want)
	}
	idx := f.current().Index
	res := f.Apply(&raft.Log{Index: idx + 1, Data: cmd(t, cmdDeleteACLs, deleteACLsCmd{ACLs: []ACL{b, testACL("x", "User:z", 3)}})}).(applyResult)
	if res.err != nil || !reflect.DeepEqual(res.acls, []ACL{b}) {
		t.Fatalf("delete = %v, %v; want [b]", res.acls, res.err)
	}
	if got := f.current().ACLs; !reflect.DeepEqual(got, []ACL{a, c}) {
		t.Fatalf("after delete ACLs = %v", got)
	}

	// Snapshots carry the ACLs and restore them.
	back, err := decodeSnapshot(bytes.NewReader(snapshotBytes(t, f.current())))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.ACLs, []ACL{a, c}) {
		t.Fatalf("restored ACLs = %v", back.ACLs)
	}
	if !bytes.Equal(snapshotBytes(t, back), snapshotBytes(t, f.current())) {
		t.Fatal("snapshot of the restored state differs")
	}
}

func TestFSMACLsInvalid(t *testing.T) {
	f, _ := testFSM(t)
	bad := []ACL{
		{ResourceType: 1, ResourceName: "t", PatternType: 3, Principal: "User:a", Host: "*", Operation: 3, Permission: 3},
		{ResourceType: 2, ResourceName: "t", PatternType: 2, Principal: "User:a", Host: "*", Operation: 3, Permission: 3},
		{ResourceType: 2, ResourceName: "t", PatternType: 3, Principal: "User:a", Host: "*", Operation: 1, Permission: 3},
		{ResourceType: 2, ResourceName: "t", PatternType: 3, Principal: "User:a", Host: "*", Operation: 3, Permission: 1},
		{ResourceType: 2, ResourceName: "", PatternType: 3, Principal: "User:a", Host: "*", Operation: 3, Permission: 3},
	}
	for i, acl := range bad {
		res := f.Apply(&raft.Log{Index: uint64(i + 1), Data: cmd(t, cmdCreateACLs, createACLsCmd{ACLs: []ACL{acl}})}).(applyResult)
		if !errors.Is(res.err, ErrInvalidACL) {
			t.Errorf("%v: err %v, want ErrInvalidACL", acl, res.err)
		}
	}
	res := f.Apply(&raft.Log{Index: 9, Data: cmd(t, cmdDeleteACLs, deleteACLsCmd{})}).(applyResult)
	if !errors.Is(res.err, ErrInvalidACL) {
		t.Errorf("empty delete: %v", res.err)
	}
	if len(f.current().ACLs) != 0 {
		t.Fatal("invalid ACLs applied")
	}
	// A snapshot with unsorted ACLs is corrupt.
	s := emptyState()
	s.ACLs = []ACL{testACL("b", "User:a", 3), testACL("a", "User:a", 3)}
	if _, err := decodeSnapshot(bytes.NewReader(snapshotBytes(t, s))); !errors.Is(err, ErrCorruptCommand) {
		t.Fatalf("unsorted snapshot ACLs: %v", err)
	}
}

func TestClusterForwardACLs(t *testing.T) {
	nodes, leader := startCluster3(t)
	follower := followersOf(nodes, leader)[0]
	ctx := ctxT(t)
	a, b := testACL("t", "User:a", 3), testACL("u", "User:b", 4)
	if err := follower.CreateACLs(ctx, []ACL{a, b}); err != nil {
		t.Fatal(err)
	}
	if got := follower.State().ACLs; !reflect.DeepEqual(got, []ACL{a, b}) {
		t.Fatalf("follower ACLs after create = %v", got)
	}
	deleted, err := follower.DeleteACLs(ctx, []ACL{a})
	if err != nil || !reflect.DeepEqual(deleted, []ACL{a}) {
		t.Fatalf("DeleteACLs = %v, %v", deleted, err)
	}
	waitSameState(t, nodes)
	for _, n := range nodes {
		if got := n.State().ACLs; !reflect.DeepEqual(got, []ACL{b}) {
			t.Fatalf("node ACLs = %v", got)
		}
	}
}

// TestNodeACLsSurviveRestart: ACLs written before a snapshot and after it
// are both back after a restart (snapshot restore plus log replay).
func TestNodeACLsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, 1, dir)
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitController(t, n)
	ctx := ctxT(t)
	a, b := testACL("t", "User:a", 3), testACL("u", "User:b", 4)
	if err := n.CreateACLs(ctx, []ACL{a}); err != nil {
		t.Fatal(err)
	}
	if err := n.raft.Snapshot().Error(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if err := n.CreateACLs(ctx, []ACL{b}); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = openNode(t, cfg)
	waitController(t, n)
	if got := n.State().ACLs; !reflect.DeepEqual(got, []ACL{a, b}) {
		t.Fatalf("ACLs after restart = %v, want [a b]", got)
	}
}
