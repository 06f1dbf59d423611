package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMetadataAutoCreateCap: one Metadata request naming 20 new topics with
// auto.create.topics.max.per.request=5 creates 5 and answers the other 15
// LEADER_NOT_AVAILABLE; repeating the request creates the rest, 5 at a time.
func TestMetadataAutoCreateCap(t *testing.T) {
	s, addr := startTestServer(t, func(c *Config) { c.AutoCreateTopicsMaxPerRequest = 5 })
	c := dialRaw(t, addr)
	ctx := testCtx(t, 30*time.Second)
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1 // implies auto-creation, like kafka-python
	for i := range 20 {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(fmt.Sprintf("auto-%02d", i))
		req.Topics = append(req.Topics, rt)
	}
	existing := func() int {
		n := 0
		for i := range 20 {
			if s.meta.State().Topics[fmt.Sprintf("auto-%02d", i)] != nil {
				n++
			}
		}
		return n
	}
	for round := 1; round <= 4; round++ {
		resp, err := c.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		waiting := 0
		for _, mt := range resp.(*kmsg.MetadataResponse).Topics {
			if mt.ErrorCode == kerr.LeaderNotAvailable.Code {
				waiting++
			} else if mt.ErrorCode != 0 {
				t.Fatalf("round %d: %s error %d", round, *mt.Topic, mt.ErrorCode)
			}
		}
		if n := existing(); n != 5*round {
			t.Fatalf("round %d: %d topics exist, want %d", round, n, 5*round)
		}
		if waiting < 20-5*round {
			t.Fatalf("round %d: %d topics answered LEADER_NOT_AVAILABLE, want at least %d", round, waiting, 20-5*round)
		}
	}
}
