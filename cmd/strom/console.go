package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	"github.com/strombroker/strom/internal/cli"
	"github.com/strombroker/strom/internal/console"
	"github.com/strombroker/strom/internal/server"
)

// addConsole serves the web console on mux beside /metrics, unless
// console.enable is off. The console is a Kafka client of this broker's
// first listener (a wildcard host is dialled on loopback), authenticated
// with console.client.config when that listener is secured. The returned
// function closes its client.
func addConsole(mux *http.ServeMux, cfg server.Config, logger *slog.Logger) (func(), error) {
	if !cfg.ConsoleEnable || len(cfg.Listeners) == 0 {
		return func() {}, nil
	}
	c := &console.Config{Seeds: []string{consoleSeed(cfg.Listeners[0])}, WriteEnable: cfg.ConsoleWriteEnable, Logger: logger}
	if cfg.ConsoleClientConfig != "" {
		o, err := cli.ClientOptsFromFile(cfg.ConsoleClientConfig)
		if err != nil {
			return nil, fmt.Errorf("console.client.config: %w", err)
		}
		c.ClientOpts = o
	}
	con, err := console.New(*c)
	if err != nil {
		return nil, err
	}
	con.Register(mux)
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	return con.Close, nil
}

// consoleSeed is the address the console dials for listener l: its own
// host, or loopback when it listens on every interface.
func consoleSeed(l server.Listener) string {
	host := l.Host
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return net.JoinHostPort(host, strconv.Itoa(l.Port))
}
