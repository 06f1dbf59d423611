package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsMux serves Prometheus metrics at /metrics, what --http-addr offers:
// the broker's own series (broker, from server.Server.Metrics) with the Go
// runtime and process collectors, which live in a registry of their own
// because they describe the process, not one broker.
func metricsMux(broker prometheus.Gatherer) *http.ServeMux {
	proc := prometheus.NewRegistry()
	proc.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{proc, broker}, promhttp.HandlerOpts{}))
	return mux
}

// pprofMux serves the Go profiler at /debug/pprof/. It has an address of its
// own (--pprof-addr), off unless asked for: profiles show memory contents
// and a CPU profile costs the broker, so they never ride along with the
// metrics endpoint that monitoring systems are given.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// startHTTP serves h on addr (what names the endpoint in the logs). The
// returned stop function shuts the server down and waits for it.
func startHTTP(addr, what string, h http.Handler, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server stopped", "serving", what, "err", err)
		}
	}()
	logger.Info("serving "+what, "addr", ln.Addr().String())
	return func() {
		hs.Close()
		<-done
	}, nil
}
