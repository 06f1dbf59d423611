package wire

import (
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFranzGoClient points a real kgo client at a Server. kgo opens with
// ApiVersions at its newest version (above our 3), so this also exercises
// the KIP-511 answer: kgo takes the version table from our v0
// UNSUPPORTED_VERSION response (it need not retry) and then picks Metadata
// v12, the newest we listed.
func TestFranzGoClient(t *testing.T) {
	ts := startServer(t, Config{})
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testCtx(t)

	resp, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		t.Fatalf("kgo Metadata: %v", err)
	}
	md := resp.(*kmsg.MetadataResponse)
	if md.ClusterID == nil || *md.ClusterID != "wire-test" || len(md.Brokers) != 1 {
		t.Fatalf("metadata %+v", md)
	}

	brokers, err := kadm.NewClient(cl).ListBrokers(ctx)
	if err != nil {
		t.Fatalf("kadm ListBrokers: %v", err)
	}
	if len(brokers) != 1 || brokers[0].NodeID != 0 || brokers[0].Host != "127.0.0.1" {
		t.Fatalf("brokers %+v", brokers)
	}

	var sawProbe, sawMetadata12 bool
	for _, r := range ts.h.requests() {
		switch {
		case r.Key == 18 && r.Version > 3:
			t.Fatalf("handler got ApiVersions v%d, above our table", r.Version)
		case r.Key == 3 && r.Version == 12:
			sawMetadata12 = true
		}
	}
	// The probe above v3 never reaches the handler; it shows up as the
	// debug line logged when the reader answers it.
	for _, rec := range ts.logs.records() {
		if v, err := strconv.Atoi(rec.attrs["version"]); err == nil && v > 3 && strings.Contains(rec.msg, "KIP-511") {
			sawProbe = true
		}
	}
	if !sawProbe || !sawMetadata12 {
		t.Fatalf("kgo exchange: ApiVersions probe above v3 answered %v, Metadata v12 %v; logs %v", sawProbe, sawMetadata12, ts.logs.records())
	}
}
