package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
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
	if c := get(metricsMux(), "/metrics"); c != http.StatusOK {
		t.Errorf("metrics /metrics = %d, want 200", c)
	}
	if c := get(metricsMux(), "/debug/pprof/"); c != http.StatusNotFound {
		t.Errorf("metrics /debug/pprof/ = %d, want 404", c)
	}
	if c := get(pprofMux(), "/debug/pprof/goroutine?debug=1"); c != http.StatusOK {
		t.Errorf("pprof /debug/pprof/goroutine = %d, want 200", c)
	}
}
