package tests

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// metricsAddrRe picks up where the broker serves --http-addr, e.g.
//
//	level=INFO msg="serving metrics" addr=127.0.0.1:40125
var metricsAddrRe = regexp.MustCompile(`msg="serving metrics" addr=("?)([^\s"]+)`)

// TestMetricsEndpoint: `strom broker --http-addr` serves /metrics with the
// broker's series beside the Go runtime's, and they count what a client did.
func TestMetricsEndpoint(t *testing.T) {
	b := startBroker(t, "--http-addr", "127.0.0.1:0")
	m := metricsAddrRe.FindStringSubmatch(b.Logs())
	if m == nil {
		t.Fatal("the broker did not log where it serves metrics")
	}
	url := "http://" + m[2] + "/metrics"
	createTopic(t, b.Addr(), "metrics-proc", 1, nil)
	produceSync(t, b.Addr(), &kgo.Record{Topic: "metrics-proc", Value: []byte("one")})

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	body := string(raw)
	for _, want := range []string{
		"go_goroutines ",
		"kafka_server_kafkaserver_brokerstate 3",
		`kafka_server_brokertopicmetrics_messagesin_total{topic="metrics-proc"} 1`,
		`kafka_network_requestmetrics_totaltimems_count{request="Produce"} `,
		"kafka_controller_kafkacontroller_activecontrollercount 1",
		`kafka_server_socket_server_metrics_connection_count{listener="PLAINTEXT"} `,
		`kafka_server_raft_metrics_current_state{state="Leader"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
