// Command strom is the Strom broker and a Kafka command-line client in one
// static binary: `strom broker` runs a broker; the other subcommands (topic,
// produce, consume, group, bench, health) talk to any Kafka cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/strombroker/strom/internal/cli"
	"github.com/strombroker/strom/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `strom %s — a Kafka-compatible broker and Kafka client in one binary

Usage:
  strom broker [flags]     run a broker (strom broker --help for flags)
  strom version            print the version
`, version)
	cli.Usage(w)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "broker":
		return runBroker(args[1:], stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "strom", version)
		return 0
	case "help", "-h", "--help", "-help":
		usage(stdout)
		return 0
	}
	for _, c := range cli.Commands() {
		if c == args[0] {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return cli.Main(ctx, args, stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "strom: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(strings.ToUpper(s)))
	return l, err
}

func runBroker(args []string, stderr io.Writer) int {
	cfg, level, err := loadConfig(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "strom broker:", err)
		return 2
	}
	lvl, err := parseLevel(level)
	if err != nil {
		fmt.Fprintf(stderr, "strom broker: --log-level %q: want debug, info, warn or error\n", level)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	cfg.Logger = logger

	srv, err := server.New(cfg)
	if err != nil {
		logger.Error("invalid configuration", "err", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Metrics and pprof come up first: a slow start (thousands of
	// partitions to recover) is when they are wanted.
	httpMux := metricsMux(srv.Metrics())
	webCon, err := addConsole(httpMux, cfg, logger)
	if err != nil {
		logger.Error("invalid configuration", "err", err)
		return 2
	}
	defer webCon.close()
	for _, ep := range []struct {
		addr, flag, what string
		h                http.Handler
	}{
		{cfg.HTTPAddr, "--http-addr", "metrics", httpMux},
		{cfg.PprofAddr, "--pprof-addr", "pprof", pprofMux()},
	} {
		if ep.addr == "" {
			continue
		}
		stopHTTP, err := startHTTP(ep.addr, ep.what, ep.h, logger)
		if err != nil {
			logger.Error("cannot serve "+ep.flag, "addr", ep.addr, "err", err)
			return 1
		}
		defer stopHTTP()
	}
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = srv.Start(startCtx)
	cancel()
	if err != nil {
		logger.Error("broker failed to start", "err", err)
		return 1
	}
	if err := webCon.start(srv.Addrs()[0]); err != nil {
		logger.Error("cannot start the web console", "err", err)
	}
	logger.Info("strom broker started", "version", version, "node_id", cfg.NodeID, "data_dir", cfg.DataDir)
	<-ctx.Done()
	stop()
	logger.Info("shutting down: closing listeners, flushing logs")
	if err := srv.Close(); err != nil {
		logger.Error("shutdown finished with errors", "err", err)
		return 1
	}
	logger.Info("shutdown complete")
	return 0
}
