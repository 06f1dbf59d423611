package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/strombroker/strom/internal/server"
)

// TestConsoleSettings: console.* settings reach the config, from flags and
// from server.properties alike.
func TestConsoleSettings(t *testing.T) {
	cfg, _, err := loadConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ConsoleEnable || cfg.ConsoleWriteEnable || cfg.ConsoleClientConfig != "" {
		t.Errorf("defaults: enable %v, write %v, client config %q; want true, false, \"\"", cfg.ConsoleEnable, cfg.ConsoleWriteEnable, cfg.ConsoleClientConfig)
	}
	props := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(props, []byte("console.write.enable=true\nconsole.client.config=/etc/strom/console.properties\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err = loadConfig([]string{"--config", props, "--console-enable=false"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConsoleEnable || !cfg.ConsoleWriteEnable || cfg.ConsoleClientConfig != "/etc/strom/console.properties" {
		t.Errorf("set: enable %v, write %v, client config %q", cfg.ConsoleEnable, cfg.ConsoleWriteEnable, cfg.ConsoleClientConfig)
	}
}

// TestConsoleOnHTTPAddr: the console rides on the metrics mux unless
// console.enable is off, and is read-only by default. Its pages need a
// broker; its static files and its refusals do not.
func TestConsoleOnHTTPAddr(t *testing.T) {
	status := func(cfg server.Config, method, path string) int {
		t.Helper()
		mux := metricsMux(nil)
		wc, err := addConsole(mux, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer wc.close()
		if err := wc.start("127.0.0.1:9"); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code
	}
	cfg := server.DefaultConfig()
	for _, tc := range []struct {
		enable, write bool
		method, path  string
		want          int
	}{
		{true, false, "GET", "/console/static/console.css", 200},
		{true, false, "GET", "/", http.StatusFound},
		{true, false, "GET", "/console/produce", 404},
		{true, false, "POST", "/console/produce", 403},
		{false, false, "GET", "/console/static/console.css", 404},
		{true, true, "POST", "/console/produce", 403}, // no CSRF token
	} {
		cfg.ConsoleEnable, cfg.ConsoleWriteEnable = tc.enable, tc.write
		if got := status(cfg, tc.method, tc.path); got != tc.want {
			t.Errorf("enable=%v write=%v %s %s: %d, want %d", tc.enable, tc.write, tc.method, tc.path, got, tc.want)
		}
	}
}

// TestConsoleBeforeStart: while the broker starts, the console's routes
// answer 503 (metrics are served; the console needs the bound listener).
func TestConsoleBeforeStart(t *testing.T) {
	mux := metricsMux(nil)
	if _, err := addConsole(mux, server.DefaultConfig(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/console/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /console/ before start: %d, want 503", rec.Code)
	}
}

func TestConsoleSeed(t *testing.T) {
	for _, tc := range []struct {
		host, want string
	}{
		{"", "127.0.0.1:9092"},
		{"0.0.0.0", "127.0.0.1:9092"},
		{"::", "[::1]:9092"},
		{"10.1.2.3", "10.1.2.3:9092"},
		{"broker-0.strom", "broker-0.strom:9092"},
	} {
		if got := consoleSeed(net.JoinHostPort(tc.host, "9092")); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.host, got, tc.want)
		}
	}
}
