package group

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestResponsesEncodeAtEveryVersion serves every API at every advertised
// version and checks the response has the request's version and survives an
// encode/decode round trip (nil slices and strings in non-nullable fields).
func TestResponsesEncodeAtEveryVersion(t *testing.T) {
	c, _ := newTestCoordinator(t, testConfig(), nil)
	allCodes(t, c.OffsetCommit(context.Background(), commitReq(7, "simple", "", -1, map[string]map[int32]int64{"a": {0: 1}})), 0)
	ids, gen := stableGroup(t, c, "g", 1, time.Minute)
	for key, vr := range Versions {
		for v := vr[0]; v <= vr[1]; v++ {
			var resp kmsg.Response
			switch key {
			case apiJoinGroup:
				resp = c.JoinGroup(context.Background(), joinReq(v, "", "", time.Minute)) // error path
			case apiSyncGroup:
				resp = c.SyncGroup(context.Background(), syncReq(v, "g", ids[0], gen, nil))
			case apiHeartbeat:
				r := kmsg.NewPtrHeartbeatRequest()
				r.Version, r.Group, r.MemberID, r.Generation = v, "g", ids[0], gen
				resp = c.Heartbeat(context.Background(), r)
			case apiLeaveGroup:
				r := kmsg.NewPtrLeaveGroupRequest()
				r.Version, r.Group, r.MemberID = v, "g", "unknown"
				r.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "unknown"}}
				resp = c.LeaveGroup(context.Background(), r)
			case apiOffsetCommit:
				resp = c.OffsetCommit(context.Background(), commitReq(v, "simple", "", -1, map[string]map[int32]int64{"a": {1: 1}}))
			case apiOffsetFetch:
				r := kmsg.NewPtrOffsetFetchRequest()
				r.Version, r.Group = v, "simple"
				r.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "a", Partitions: []int32{0, 9}}}
				r.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "simple"}}
				resp = c.OffsetFetch(context.Background(), r)
			case apiListGroups:
				r := kmsg.NewPtrListGroupsRequest()
				r.Version = v
				resp = c.ListGroups(context.Background(), r)
			case apiDescribeGroups:
				r := kmsg.NewPtrDescribeGroupsRequest()
				r.Version, r.Groups = v, []string{"g", "simple", "none"}
				resp = c.DescribeGroups(context.Background(), r)
			case apiDeleteGroups:
				r := kmsg.NewPtrDeleteGroupsRequest()
				r.Version, r.Groups = v, []string{"none"}
				resp = c.DeleteGroups(context.Background(), r)
			case apiOffsetDelete:
				r := kmsg.NewPtrOffsetDeleteRequest()
				r.Version, r.Group = v, "simple"
				r.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "zz", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
				resp = c.OffsetDelete(context.Background(), r)
			default:
				t.Fatalf("key %d in Versions has no case", key)
			}
			if resp.Key() != key || resp.GetVersion() != v {
				t.Fatalf("key %d v%d: response key %d version %d", key, v, resp.Key(), resp.GetVersion())
			}
			enc := resp.AppendTo(nil)
			back := kmsg.ResponseForKey(key)
			back.SetVersion(v)
			if err := back.ReadFrom(enc); err != nil {
				t.Fatalf("key %d v%d: decode own response: %v", key, v, err)
			}
		}
	}
}
