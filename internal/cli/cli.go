package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes returned by Main. They follow the flag package's convention so
// scripts can tell "you typed it wrong" from "it did not work".
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// env is what every subcommand runs with: the streams it may touch and the
// context whose cancellation (Ctrl-C in main) asks it to stop cleanly.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// command is one subcommand. run returns an error; Main turns it into the
// exit code and the one-line message.
type command struct {
	name    string
	summary string
	run     func(e *env, args []string) error
}

// commands is the dispatch table, in the order Usage prints them.
var commands = []command{
	{name: "topic", summary: "create, list, describe, alter and delete topics", run: runTopic},
	{name: "produce", summary: "write lines from stdin to a topic as records", run: runProduce},
	{name: "consume", summary: "print records from a topic (optionally as a consumer group)", run: runConsume},
	{name: "group", summary: "list, describe (with lag), reset offsets of and delete consumer groups", run: runGroup},
	{name: "bench", summary: "throughput and latency: produce/consume (like kafka-*-perf-test), workload (like OpenMessaging Benchmark)", run: runBench},
	{name: "cluster", summary: "cluster status: brokers, controller, Raft quorum, under-replicated and offline partitions", run: runCluster},
	{name: "quota", summary: "set, list and delete client quotas (like kafka-configs.sh for quotas)", run: runQuota},
	{name: "leader", summary: "elect preferred or (unclean) any live leaders (like kafka-leader-election.sh)", run: runLeader},
	{name: "health", summary: "exit 0 if a broker answers ApiVersions and Metadata in time", run: runHealth},
	{name: "certs", summary: "make a development CA and broker and client certificates (PEM) for trying TLS", run: runCerts},
	{name: "acl", summary: "add, list and remove ACLs (like kafka-acls.sh)", run: runACL},
	{name: "user", summary: "create, delete and list SCRAM users (AlterUserScramCredentials / DescribeUserScramCredentials)", run: runUser},
	{name: "txn", summary: "list and describe transactions and the producers of partitions (like kafka-transactions.sh)", run: runTxn},
	{name: "feature", summary: "describe, upgrade and downgrade finalized feature levels (like kafka-features.sh)", run: runFeature},
	{name: "token", summary: "create, renew, expire and describe delegation tokens (like kafka-delegation-tokens.sh)", run: runToken},
}

// Commands lists the subcommand names Main accepts, so cmd/strom can decide
// whether to dispatch here or handle a name itself (e.g. "broker").
func Commands() []string {
	out := make([]string, 0, len(commands))
	for _, c := range commands {
		out = append(out, c.name)
	}
	return out
}

// Usage writes a short summary of the client subcommands, meant to be
// embedded in the strom binary's top-level help.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "Kafka client commands (work against any Kafka-compatible cluster):")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "Common flags: --brokers host:port[,host:port] (env STROM_BROKERS, default "+defaultBrokers+"), --json, --timeout.")
	fmt.Fprintln(w, "Run `strom COMMAND -h` for the flags of one command.")
}

// Main runs the client subcommand args[0] with the remaining arguments and
// returns the process exit code (0 ok, 1 failed, 2 usage error). Cancelling
// ctx stops long-running subcommands (consume, produce, bench) cleanly:
// consumers commit what they printed, producers flush what they accepted.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return mainEnv(&env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: osGetenv}, args)
}

func mainEnv(e *env, args []string) int {
	if len(args) == 0 {
		Usage(e.stderr)
		return exitUsage
	}
	name := args[0]
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(e, args[1:])
		return report(e.stderr, "strom "+name, err)
	}
	fmt.Fprintf(e.stderr, "strom: unknown command %q — known commands: %s\n", name, strings.Join(Commands(), ", "))
	return exitUsage
}

// report prints err (if any) as one line and maps it to an exit code.
func report(w io.Writer, prefix string, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.Is(err, ErrUsage):
		// The flag package already printed its own message for flag errors;
		// ours carry the text after the sentinel.
		if msg := strings.TrimPrefix(err.Error(), ErrUsage.Error()+": "); msg != ErrUsage.Error() && msg != "" {
			fmt.Fprintf(w, "%s: %s\n", prefix, msg)
		}
		return exitUsage
	default:
		fmt.Fprintf(w, "%s: %s\n", prefix, err)
		return exitFail
	}
}

// subcommands dispatches a second-level name (topic create, group list, ...).
func subcommands(e *env, parent string, args []string, subs map[string]func(*env, []string) error) error {
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stderr, "usage: strom %s {%s} [flags]\n", parent, strings.Join(names, "|"))
		if len(args) == 0 {
			return usageErr("missing %s subcommand", parent)
		}
		return errHelp
	}
	fn, ok := subs[args[0]]
	if !ok {
		return usageErr("unknown %s subcommand %q — use one of: %s", parent, args[0], strings.Join(names, ", "))
	}
	return fn(e, args[1:])
}
