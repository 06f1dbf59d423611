package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/server"
)

// TestMetricsAndPprofApart: the metrics address never serves the profiler
// (monitoring systems get that address); the pprof address does.
func TestMetricsAndPprofApart(t *testing.T) {
	get := func(h http.Handler, path string) int {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		stop, err := startHTTP(addr, "test", h, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(metricsMux(prometheus.NewRegistry()), "/metrics"); c != http.StatusOK {
		t.Errorf("metrics /metrics = %d, want 200", c)
	}
	if c := get(metricsMux(prometheus.NewRegistry()), "/debug/pprof/"); c != http.StatusNotFound {
		t.Errorf("metrics /debug/pprof/ = %d, want 404", c)
	}
	if c := get(pprofMux(), "/debug/pprof/goroutine?debug=1"); c != http.StatusOK {
		t.Errorf("pprof /debug/pprof/goroutine = %d, want 200", c)
	}
}

// TestMetricsEndpointServesBrokerSeries: GET /metrics on a running broker,
// as --http-addr serves it, shows broker series (not only go_* and
// process_*), and they move with traffic.
func TestMetricsEndpointServesBrokerSeries(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Listeners = []server.Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 0}}
	cfg.DataDir = t.TempDir()
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.OffsetsTopicPartitions = 1
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	stop, err := startHTTP(addr, "metrics", metricsMux(srv.Metrics()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	// Served before Start, as cmd/strom does: the broker state is there.
	if body := scrape(t, addr); !strings.Contains(body, "kafka_server_kafkaserver_brokerstate 0") {
		t.Errorf("before Start, /metrics lacks brokerstate 0")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	cl, err := kgo.NewClient(kgo.SeedBrokers(srv.Addrs()[0]), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "metrics-cmd", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, addr)
	for _, want := range []string{
		"go_goroutines ",
		"process_open_fds ",
		"kafka_server_kafkaserver_brokerstate 3",
		`kafka_server_brokertopicmetrics_messagesin_total{topic="metrics-cmd"} 1`,
		`kafka_network_requestmetrics_requests_total{request="Produce"} `,
		`kafka_network_requestmetrics_totaltimems_bucket{request="Produce",le="+Inf"} `,
		"kafka_controller_kafkacontroller_activecontrollercount 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape GETs http://addr/metrics.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
	}
	return string(b)
}

// TestMetricsPartitionLevelSetting: metrics.partition.level.enable is off by
// default and set by properties, environment and flag alike.
func TestMetricsPartitionLevelSetting(t *testing.T) {
	cfg, _, _ := load(t, nil, env{})
	if cfg.MetricsPartitionLevel {
		t.Fatal("per-partition metrics on by default")
	}
	path := writeProps(t, "metrics.partition.level.enable=true\n")
	if cfg, _, _ := load(t, []string{"--config", path}, env{}); !cfg.MetricsPartitionLevel {
		t.Error("properties key not applied")
	}
	if cfg, _, _ := load(t, nil, env{"STROM_METRICS_PARTITION_LEVEL_ENABLE": "true"}); !cfg.MetricsPartitionLevel {
		t.Error("environment variable not applied")
	}
	if cfg, _, _ := load(t, []string{"--metrics-partition-level-enable=true"}, env{}); !cfg.MetricsPartitionLevel {
		t.Error("flag not applied")
	}
}
