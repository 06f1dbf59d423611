package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/raftmeta"
)

// Tests of the keys Kafka 4.1 has that Strom added with it:
// AlterReplicaLogDirs, UnregisterBroker, AddRaftVoter, RemoveRaftVoter.

// TestAlterReplicaLogDirs: the one data directory (as DescribeLogDirs
// reports it) takes every hosted replica as a no-op; another path is
// LOG_DIR_NOT_FOUND, a replica not hosted REPLICA_NOT_AVAILABLE, a name too
// long for Kafka's -future directory INVALID_TOPIC_EXCEPTION; every version.
func TestAlterReplicaLogDirs(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	if _, err := kadmCreate(ctx, t, addr, "moved", 2); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, addr)
	dl := mustRequest[*kmsg.DescribeLogDirsResponse](t, c, kmsg.NewPtrDescribeLogDirsRequest())
	if len(dl.Dirs) != 1 {
		t.Fatalf("describe log dirs: %d dirs", len(dl.Dirs))
	}
	dataDir := dl.Dirs[0].Dir
	long := strings.Repeat("x", 240)
	for v := int16(0); v <= 2; v++ {
		req := kmsg.NewPtrAlterReplicaLogDirsRequest()
		req.Version = v
		for _, d := range []struct {
			path  string
			topic string
			parts []int32
		}{{dataDir, "moved", []int32{0, 1, 9}}, {dataDir + "-other", "moved", []int32{0}}, {dataDir, long, []int32{0}}} {
			rd := kmsg.NewAlterReplicaLogDirsRequestDir()
			rd.Dir = d.path
			rt := kmsg.NewAlterReplicaLogDirsRequestDirTopic()
			rt.Topic, rt.Partitions = d.topic, d.parts
			rd.Topics = append(rd.Topics, rt)
			req.Dirs = append(req.Dirs, rd)
		}
		resp := mustRequest[*kmsg.AlterReplicaLogDirsResponse](t, c, req)
		got := map[string][]int16{}
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				got[rt.Topic] = append(got[rt.Topic], p.ErrorCode)
			}
		}
		want := []int16{0, 0, kerr.ReplicaNotAvailable.Code, kerr.LogDirNotFound.Code}
		if len(resp.Topics) != 2 || !equalCodes(got["moved"], want) || !equalCodes(got[long], []int16{kerr.InvalidTopicException.Code}) {
			t.Fatalf("v%d: %v, want moved %v and the long name INVALID_TOPIC_EXCEPTION", v, got, want)
		}
	}
}

func equalCodes(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestUnregisterBroker: a fenced broker is removed from the registrations
// (DescribeCluster v2 no longer lists it); an unknown id is
// BROKER_ID_NOT_REGISTERED and a live broker INVALID_REQUEST, both with a
// message.
func TestUnregisterBroker(t *testing.T) {
	s, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	gone := raftmeta.Broker{ID: 7, Fenced: true, Listeners: []raftmeta.Listener{{Name: "PLAINTEXT", Host: "127.0.0.7", Port: 9092}}}
	if err := s.meta.RegisterBroker(ctx, gone); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, addr)
	unregister := func(id int32) *kmsg.UnregisterBrokerResponse {
		req := kmsg.NewPtrUnregisterBrokerRequest()
		req.BrokerID = id
		return mustRequest[*kmsg.UnregisterBrokerResponse](t, c, req)
	}
	if r := unregister(42); r.ErrorCode != kerr.BrokerIDNotRegistered.Code || r.ErrorMessage == nil {
		t.Fatalf("unknown id: %+v", r)
	}
	if r := unregister(1); r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil {
		t.Fatalf("live broker: %+v", r)
	}
	if r := unregister(7); r.ErrorCode != 0 || r.ErrorMessage != nil {
		t.Fatalf("fenced broker: %+v", r)
	}
	if _, ok := s.meta.State().Brokers[7]; ok {
		t.Fatal("broker 7 still registered")
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.Version, dc.IncludeFencedBrokers = 2, true
	if resp := mustRequest[*kmsg.DescribeClusterResponse](t, c, dc); len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 1 {
		t.Fatalf("describe cluster after unregister: %+v", resp.Brokers)
	}
	if r := unregister(7); r.ErrorCode != kerr.BrokerIDNotRegistered.Code {
		t.Fatalf("second unregister: %+v", r)
	}
}

// quorumVoterDir returns the directory id DescribeQuorum v2 reports for
// node id among the voters and observers.
func quorumVoterDir(t *testing.T, resp *kmsg.DescribeQuorumResponse, id int32) [16]byte {
	t.Helper()
	p := resp.Topics[0].Partitions[0]
	for _, rs := range append(p.CurrentVoters, p.Observers...) {
		if rs.ReplicaID == id {
			return rs.ReplicaDirectoryID
		}
	}
	t.Fatalf("node %d not in the quorum: %+v", id, p)
	return [16]byte{}
}

// TestRaftVoterRequestsSingleBroker: DescribeQuorum v2 reports the data
// directory id, kept across a restart; AddRaftVoter and RemoveRaftVoter
// check the cluster id, the voter key and the listeners, and refuse what a
// one-voter group cannot do with Kafka's errors.
func TestRaftVoterRequestsSingleBroker(t *testing.T) {
	s, addr := startTestServer(t)
	c := dialRaw(t, addr)
	dir := quorumVoterDir(t, mustRequest[*kmsg.DescribeQuorumResponse](t, c, quorumRequest(2, metadataTopic, 0)), 1)
	if dir != s.dirID || reservedDirectoryID(dir) {
		t.Fatalf("directory id %x, server's %x", dir, s.dirID)
	}
	raw, err := os.ReadFile(filepath.Join(s.cfg.DataDir, directoryIDFile))
	if err != nil || strings.TrimSpace(string(raw)) != formatTopicID(dir) {
		t.Fatalf("directory.id file %q (%v), want %s", raw, err, formatTopicID(dir))
	}
	if again, err := loadDirectoryID(s.cfg.DataDir); err != nil || again != dir {
		t.Fatalf("reloaded directory id %x (%v), want %x", again, err, dir)
	}
	cluster := s.meta.State().ClusterID
	wrong := "not-" + cluster
	remove := func(clusterID *string, id int32, d [16]byte) *kmsg.RemoveRaftVoterResponse {
		req := kmsg.NewPtrRemoveRaftVoterRequest()
		req.ClusterID, req.VoterID, req.VoterDirectoryID = clusterID, id, d
		return mustRequest[*kmsg.RemoveRaftVoterResponse](t, c, req)
	}
	for _, tc := range []struct {
		name    string
		cluster *string
		id      int32
		dir     [16]byte
		want    *kerr.Error
	}{
		{"other cluster", &wrong, 1, dir, kerr.InconsistentClusterID},
		{"zero directory id", &cluster, 1, [16]byte{}, kerr.InvalidRequest},
		{"negative id", nil, -1, dir, kerr.InvalidRequest},
		{"not a voter", nil, 5, dir, kerr.VoterNotFound},
		{"other directory id", &cluster, 1, [16]byte{1, 2, 3}, kerr.VoterNotFound},
		{"last voter", &cluster, 1, dir, kerr.VoterNotFound},
	} {
		r := remove(tc.cluster, tc.id, tc.dir)
		wantCode(t, "remove voter: "+tc.name, r.ErrorCode, tc.want)
		wantMessage(t, "remove voter: "+tc.name, r.ErrorMessage, "")
	}

	add := func(id int32, d [16]byte, listeners ...kmsg.AddRaftVoterRequestListener) *kmsg.AddRaftVoterResponse {
		req := kmsg.NewPtrAddRaftVoterRequest()
		req.ClusterID, req.VoterID, req.VoterDirectoryID, req.TimeoutMillis = &cluster, id, d, 5000
		req.Listeners = listeners
		return mustRequest[*kmsg.AddRaftVoterResponse](t, c, req)
	}
	own := kmsg.AddRaftVoterRequestListener{Name: "PLAINTEXT", Host: "127.0.0.1", Port: uint16(portOf(t, addr))}
	if r := add(1, dir, own); r.ErrorCode != kerr.DuplicateVoter.Code {
		t.Fatalf("add the voter itself: %+v", r)
	}
	if r := add(1, dir, kmsg.AddRaftVoterRequestListener{Name: "CONTROLLER", Host: "127.0.0.1", Port: 1}); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("no registered listener: %+v", r)
	}
	if r := add(1, dir, kmsg.AddRaftVoterRequestListener{Name: "PLAINTEXT", Host: "127.0.0.9", Port: 1}); r.ErrorCode != kerr.RequestTimedOut.Code {
		t.Fatalf("listener elsewhere: %+v", r)
	}
	if r := add(8, [16]byte{8}); r.ErrorCode != kerr.RequestTimedOut.Code || r.ErrorMessage == nil {
		t.Fatalf("not an observer: %+v", r)
	}
}

// TestDirectoryIDFileRefused: a directory.id file that holds no valid id
// stops the broker instead of being replaced (the id is an identity).
func TestDirectoryIDFileRefused(t *testing.T) {
	dir := t.TempDir()
	for _, content := range []string{"garbage", formatTopicID([16]byte{15: 1})} {
		if err := os.WriteFile(filepath.Join(dir, directoryIDFile), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := loadDirectoryID(dir); err == nil {
			t.Fatalf("directory id %q accepted", content)
		}
	}
}
