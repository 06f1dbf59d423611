package server

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// aclCase is one request and where its answer's error code is.
type aclCase struct {
	name string
	req  func() kmsg.Request
	code func(kmsg.Response) int16
	want *kerr.Error // for a principal without ACLs
}

func topicPartitionCases() []aclCase {
	return []aclCase{
		{"ListOffsets", func() kmsg.Request {
			r := kmsg.NewPtrListOffsetsRequest()
			r.Version = 4
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = "t"
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Timestamp = -1
			rt.Partitions = append(rt.Partitions, rp)
			r.Topics = append(r.Topics, rt)
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].ErrorCode }, kerr.TopicAuthorizationFailed},
		{"OffsetForLeaderEpoch", func() kmsg.Request {
			r := kmsg.NewPtrOffsetForLeaderEpochRequest()
			r.Version = 3
			r.ReplicaID = -1
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = "t"
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.CurrentLeaderEpoch = -1
			rt.Partitions = append(rt.Partitions, rp)
			r.Topics = append(r.Topics, rt)
			return r
		}, func(r kmsg.Response) int16 {
			return r.(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0].ErrorCode
		}, kerr.TopicAuthorizationFailed},
		{"DeleteRecords", func() kmsg.Request {
			r := kmsg.NewPtrDeleteRecordsRequest()
			r.Version = 1
			r.Topics = []kmsg.DeleteRecordsRequestTopic{{Topic: "t", Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: 0}}}}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0].ErrorCode }, kerr.TopicAuthorizationFailed},
		{"ReplicaFetch", func() kmsg.Request {
			r := kmsg.NewPtrFetchRequest()
			r.Version = 11
			r.ReplicaID = 2
			r.MaxBytes = 1 << 20
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = "t"
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes = 1 << 20
			rp.CurrentLeaderEpoch = -1
			rt.Partitions = append(rt.Partitions, rp)
			r.Topics = append(r.Topics, rt)
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode }, kerr.TopicAuthorizationFailed},
	}
}

func topicAdminCases() []aclCase {
	cfg := func(typ kmsg.ConfigResourceType, name string) kmsg.DescribeConfigsRequestResource {
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName = typ, name
		return res
	}
	return []aclCase{
		{"DeleteTopics", func() kmsg.Request {
			r := kmsg.NewPtrDeleteTopicsRequest()
			r.Version = 4
			r.TopicNames = []string{"t"}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode }, kerr.TopicAuthorizationFailed},
		{"CreatePartitions", func() kmsg.Request {
			r := kmsg.NewPtrCreatePartitionsRequest()
			r.Version = 1
			r.ValidateOnly = true
			r.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "t", Count: 2}}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode }, kerr.TopicAuthorizationFailed},
		{"DescribeConfigsTopic", func() kmsg.Request {
			r := kmsg.NewPtrDescribeConfigsRequest()
			r.Version = 1
			r.Resources = append(r.Resources, cfg(kmsg.ConfigResourceTypeTopic, "t"))
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.DescribeConfigsResponse).Resources[0].ErrorCode }, kerr.TopicAuthorizationFailed},
		{"DescribeConfigsBroker", func() kmsg.Request {
			r := kmsg.NewPtrDescribeConfigsRequest()
			r.Version = 1
			r.Resources = append(r.Resources, cfg(kmsg.ConfigResourceTypeBroker, "1"))
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.DescribeConfigsResponse).Resources[0].ErrorCode }, kerr.ClusterAuthorizationFailed},
		{"AlterConfigs", func() kmsg.Request {
			r := kmsg.NewPtrAlterConfigsRequest()
			r.Version = 1
			r.ValidateOnly = true
			r.Resources = []kmsg.AlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "t"}}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.AlterConfigsResponse).Resources[0].ErrorCode }, kerr.TopicAuthorizationFailed},
		{"IncrementalAlterConfigs", func() kmsg.Request {
			r := kmsg.NewPtrIncrementalAlterConfigsRequest()
			r.Version = 1
			r.ValidateOnly = true
			r.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "t"}}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.IncrementalAlterConfigsResponse).Resources[0].ErrorCode }, kerr.TopicAuthorizationFailed},
		{"InitProducerID", func() kmsg.Request {
			r := kmsg.NewPtrInitProducerIDRequest()
			r.Version = 1
			r.TransactionTimeoutMillis = 60000
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.InitProducerIDResponse).ErrorCode }, kerr.ClusterAuthorizationFailed},
		{"DescribeQuorum", func() kmsg.Request {
			r := kmsg.NewPtrDescribeQuorumRequest()
			r.Topics = []kmsg.DescribeQuorumRequestTopic{{Topic: "__cluster_metadata", Partitions: []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}}}}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.DescribeQuorumResponse).ErrorCode }, kerr.ClusterAuthorizationFailed},
	}
}

func groupCases() []aclCase {
	return []aclCase{
		{"OffsetCommit", func() kmsg.Request {
			r := kmsg.NewPtrOffsetCommitRequest()
			r.Version = 7
			r.Group, r.Generation, r.MemberID = "g", -1, ""
			r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 0, LeaderEpoch: -1}}}}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode }, kerr.GroupAuthorizationFailed},
		{"OffsetFetch", func() kmsg.Request {
			r := kmsg.NewPtrOffsetFetchRequest()
			r.Version = 7
			r.Group = "g"
			r.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.OffsetFetchResponse).ErrorCode }, kerr.GroupAuthorizationFailed},
		{"Heartbeat", func() kmsg.Request {
			r := kmsg.NewPtrHeartbeatRequest()
			r.Version = 3
			r.Group, r.MemberID = "g", "m"
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.HeartbeatResponse).ErrorCode }, kerr.GroupAuthorizationFailed},
		{"SyncGroup", func() kmsg.Request {
			r := kmsg.NewPtrSyncGroupRequest()
			r.Version = 3
			r.Group, r.MemberID = "g", "m"
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.SyncGroupResponse).ErrorCode }, kerr.GroupAuthorizationFailed},
		{"LeaveGroup", func() kmsg.Request {
			r := kmsg.NewPtrLeaveGroupRequest()
			r.Version = 3
			r.Group = "g"
			r.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "m"}}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.LeaveGroupResponse).ErrorCode }, kerr.GroupAuthorizationFailed},
		{"DescribeGroups", func() kmsg.Request {
			r := kmsg.NewPtrDescribeGroupsRequest()
			r.Version = 3
			r.Groups = []string{"g"}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.DescribeGroupsResponse).Groups[0].ErrorCode }, kerr.GroupAuthorizationFailed},
		{"DeleteGroups", func() kmsg.Request {
			r := kmsg.NewPtrDeleteGroupsRequest()
			r.Version = 1
			r.Groups = []string{"nosuch"}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode }, kerr.GroupAuthorizationFailed},
		{"OffsetDelete", func() kmsg.Request {
			r := kmsg.NewPtrOffsetDeleteRequest()
			r.Group = "g"
			r.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
			return r
		}, func(r kmsg.Response) int16 { return r.(*kmsg.OffsetDeleteResponse).ErrorCode }, kerr.GroupAuthorizationFailed},
	}
}

// TestACLEveryHandlerChecks sends each API Kafka authorizes as User:nobody
// (no ACLs: Kafka's error code expected) and as the super user User:admin
// (never an authorization error). Produce, Fetch, Metadata, JoinGroup,
// FindCoordinator, CreateTopics and the ACL APIs are covered in acl_test.go.
func TestACLEveryHandlerChecks(t *testing.T) {
	_, addr := startACLServer(t)
	ctx := testCtx(t, 60*time.Second)
	adm := kadm.NewClient(clientAs(t, addr, "admin"))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	nobody, admin := rawAs(t, addr, "nobody"), rawAs(t, addr, "admin")
	authErrs := map[int16]bool{kerr.TopicAuthorizationFailed.Code: true, kerr.GroupAuthorizationFailed.Code: true,
		kerr.ClusterAuthorizationFailed.Code: true, kerr.TransactionalIDAuthorizationFailed.Code: true}
	cases := append(append(topicPartitionCases(), topicAdminCases()...), groupCases()...)
	// DeleteTopics last: as the super user it deletes t.
	slices.SortStableFunc(cases, func(a, b aclCase) int {
		return cmp.Compare(boolInt(a.name == "DeleteTopics"), boolInt(b.name == "DeleteTopics"))
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.code(mustRequest[kmsg.Response](t, nobody, c.req())); got != c.want.Code {
				t.Errorf("as nobody: %v, want %v", kerr.ErrorForCode(got), c.want)
			}
			if got := c.code(mustRequest[kmsg.Response](t, admin, c.req())); authErrs[got] {
				t.Errorf("as super user: %v", kerr.ErrorForCode(got))
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestACLGroupListingAndOps: ListGroups shows only groups the principal may
// DESCRIBE (all of them with DESCRIBE on the cluster), and DescribeGroups
// reports the principal's authorized operations.
func TestACLGroupListingAndOps(t *testing.T) {
	_, addr := startACLServer(t)
	ctx := testCtx(t, 60*time.Second)
	adm := kadm.NewClient(clientAs(t, addr, "admin"))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"mine", "theirs"} {
		os := kadm.Offsets{}
		os.AddOffset("t", 0, 0, -1)
		if _, err := adm.CommitOffsets(ctx, g, os); err != nil {
			t.Fatal(err)
		}
	}
	addACLs(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts().Groups("mine").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	raw := rawAs(t, addr, "alice")
	list := func() []string {
		r := kmsg.NewPtrListGroupsRequest()
		r.Version = 3
		var out []string
		for _, g := range mustRequest[*kmsg.ListGroupsResponse](t, raw, r).Groups {
			out = append(out, g.Group)
		}
		return out
	}
	if got := list(); len(got) != 1 || got[0] != "mine" {
		t.Fatalf("ListGroups as alice: %v, want [mine]", got)
	}
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version = 3
	dg.Groups = []string{"mine"}
	dg.IncludeAuthorizedOperations = true
	if got := mustRequest[*kmsg.DescribeGroupsResponse](t, raw, dg).Groups[0].AuthorizedOperations; got != 1<<3|1<<8 {
		t.Fatalf("authorized ops on mine: %b, want READ|DESCRIBE", got)
	}
	addACLs(t, adm, kadm.NewACLs().Allow("User:alice").AllowHosts().Clusters().Operations(kadm.OpDescribe))
	if got := list(); len(got) != 2 {
		t.Fatalf("ListGroups as alice with DESCRIBE on the cluster: %v, want both", got)
	}
}
