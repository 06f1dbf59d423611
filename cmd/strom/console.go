package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strombroker/strom/internal/cli"
	"github.com/strombroker/strom/internal/console"
	"github.com/strombroker/strom/internal/server"
)

// webConsole is the console on the --http-addr mux. The HTTP endpoint comes
// up before the broker (metrics are wanted during a long recovery) while the
// console needs the broker's bound listener (port 0 is only known after
// Start), so the routes exist from the start and answer 503 until start
// is called.
type webConsole struct {
	cfg    console.Config
	mux    atomic.Pointer[http.ServeMux]
	mu     sync.Mutex
	closer func()
}

// addConsole puts the console's routes on mux, unless console.enable is off
// (then it returns nil). Its client options come from
// console.client.config, read now so that a bad file stops start-up.
func addConsole(mux *http.ServeMux, cfg server.Config, logger *slog.Logger) (*webConsole, error) {
	if !cfg.ConsoleEnable || len(cfg.Listeners) == 0 {
		return nil, nil
	}
	var opts []kgo.Opt
	if cfg.ConsoleClientConfig != "" {
		o, err := cli.ClientOptsFromFile(cfg.ConsoleClientConfig)
		if err != nil {
			return nil, fmt.Errorf("console.client.config: %w", err)
		}
		opts = o
	}
	wc := &webConsole{cfg: console.Config{ClientOpts: opts, WriteEnable: cfg.ConsoleWriteEnable, Logger: logger}}
	mux.Handle("/console/", wc)
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	return wc, nil
}

// start makes the console a client of the broker's first listener, bound
// at addr (a wildcard host is dialled on loopback).
func (wc *webConsole) start(addr string) error {
	if wc == nil {
		return nil
	}
	cfg := wc.cfg
	cfg.Seeds = []string{consoleSeed(addr)}
	con, err := console.New(cfg)
	if err != nil {
		return err
	}
	m := http.NewServeMux()
	con.Register(m)
	wc.mu.Lock()
	wc.closer = con.Close
	wc.mu.Unlock()
	wc.mux.Store(m)
	return nil
}

// close closes the console's client, if it started.
func (wc *webConsole) close() {
	if wc == nil {
		return
	}
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.closer != nil {
		wc.closer()
		wc.closer = nil
	}
}

// ServeHTTP serves the console once started, 503 before.
func (wc *webConsole) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := wc.mux.Load()
	if m == nil {
		http.Error(w, "the broker is starting; the console is served once it is up", http.StatusServiceUnavailable)
		return
	}
	m.ServeHTTP(w, r)
}

// consoleSeed is the address the console dials for a listener bound at
// addr: the same, or loopback when it listens on every interface.
func consoleSeed(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
