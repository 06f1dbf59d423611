package cli

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type healthResult struct {
	OK         bool    `json:"ok"`
	Broker     string  `json:"broker"`
	ClusterID  string  `json:"cluster_id,omitempty"`
	Brokers    int     `json:"brokers"`
	Controller int32   `json:"controller"`
	APIKeys    int     `json:"api_keys"`
	Millis     float64 `json:"latency_ms"`
}

// runHealth is the Docker/k8s probe: one ApiVersions and one Metadata round
// trip, both inside --timeout, and a single line of output. It asks for no
// topics so a large cluster answers as fast as an empty one.
func runHealth(e *env, args []string) error {
	fs, o := newFlags(e, "health", "health [--brokers host:port] [--timeout 3s]", 3*time.Second, "the broker must answer within this time")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("health takes no arguments — pass the broker with --brokers")
	}
	start := time.Now()
	ctx, cancel := o.reqCtx(e.ctx)
	defer cancel()
	cl, _, err := o.client(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()

	avReq := kmsg.NewPtrApiVersionsRequest()
	avReq.ClientSoftwareName = "strom-cli"
	avReq.ClientSoftwareVersion = "1"
	resp, err := cl.Request(ctx, avReq)
	if err != nil {
		return o.wrap(err)
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if err := kerr.ErrorForCode(av.ErrorCode); err != nil {
		return fmt.Errorf("ApiVersions answered with %w", err)
	}
	mdReq := kmsg.NewPtrMetadataRequest()
	mdReq.Topics = []kmsg.MetadataRequestTopic{}
	resp, err = cl.Request(ctx, mdReq)
	if err != nil {
		return o.wrap(err)
	}
	md := resp.(*kmsg.MetadataResponse)
	if len(md.Brokers) == 0 {
		return fmt.Errorf("the broker answered Metadata with no brokers — it is still starting or not part of a cluster yet")
	}
	r := healthResult{OK: true, Broker: o.seeds()[0], Brokers: len(md.Brokers), Controller: md.ControllerID, APIKeys: len(av.ApiKeys), Millis: float64(time.Since(start).Microseconds()) / 1000}
	if md.ClusterID != nil {
		r.ClusterID = *md.ClusterID
	}
	if o.json {
		return writeJSON(e.stdout, r)
	}
	fmt.Fprintf(e.stdout, "ok: %s answered in %s (cluster %s, %d brokers, controller %d, %d API keys)\n", r.Broker, roundDur(time.Since(start)), orDash(r.ClusterID), r.Brokers, r.Controller, r.APIKeys)
	return nil
}
