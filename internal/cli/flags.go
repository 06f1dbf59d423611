package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const defaultBrokers = "127.0.0.1:9092"

// osGetenv is the environment lookup Main uses; tests inject their own.
var osGetenv = os.Getenv

// common holds the flags every subcommand shares.
type common struct {
	brokers string
	json    bool
	timeout time.Duration
	// commandConfig is --command-config: a Kafka client properties file
	// (security.protocol, sasl.*, ssl.*; clientconfig.go).
	commandConfig string
}

// newFlags builds a FlagSet with the common flags registered. timeoutHelp
// describes what --timeout bounds for this subcommand; the meaning differs
// (request deadline, idle exit, health deadline).
func newFlags(e *env, name, usage string, timeout time.Duration, timeoutHelp string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet("strom "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	o := &common{}
	def := defaultBrokers
	if v := strings.TrimSpace(e.getenv("STROM_BROKERS")); v != "" {
		def = v
	}
	fs.StringVar(&o.brokers, "brokers", def, "comma-separated seed brokers host:port (env STROM_BROKERS)")
	fs.BoolVar(&o.json, "json", false, "machine-readable JSON output")
	fs.DurationVar(&o.timeout, "timeout", timeout, timeoutHelp)
	fs.StringVar(&o.commandConfig, "command-config", "", "Kafka client properties file: security.protocol, sasl.mechanism, sasl.jaas.config, ssl.truststore.location, ... (as Kafka's tools take it)")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: strom %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs, o
}

// parse parses args allowing flags after positional arguments, which the
// flag package alone stops at ("topic create foo --partitions 3"). A bare
// "--" ends flag parsing. It returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			// The flag package already printed the problem and the usage.
			return nil, ErrUsage
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// seeds splits --brokers into addresses, adding the default port if missing.
func (o *common) seeds() []string {
	var out []string
	for _, b := range strings.Split(o.brokers, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(b); err != nil {
			b = net.JoinHostPort(b, "9092")
		}
		out = append(out, b)
	}
	return out
}

// reqCtx bounds one administrative operation by --timeout.
func (o *common) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, o.timeout)
}

// preflight dials the seed brokers until one accepts a TCP connection. kgo
// retries failed dials quietly until the request deadline, which turns a
// plain "nothing is listening" into a long wait and a vague deadline error;
// one cheap dial up front lets us say exactly which address refused.
func preflight(ctx context.Context, o *common, seeds []string) error {
	if len(seeds) == 0 {
		return usageErr("--brokers is empty — pass host:port, e.g. --brokers %s", defaultBrokers)
	}
	dialTimeout := o.timeout
	if dialTimeout <= 0 || dialTimeout > 5*time.Second {
		dialTimeout = 5 * time.Second
	}
	var first error
	for _, s := range seeds {
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		var d net.Dialer
		conn, err := d.DialContext(dctx, "tcp", s)
		cancel()
		if err == nil {
			return conn.Close()
		}
		if first == nil {
			first = err
		}
	}
	return explainConn(first, seeds, o)
}

// client checks that a seed broker is reachable and returns a kgo client
// configured with the seeds plus opts, and a kadm client over it. The caller
// closes the kgo client.
func (o *common) client(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, *kadm.Client, error) {
	seeds := o.seeds()
	if err := preflight(ctx, o, seeds); err != nil {
		return nil, nil, err
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("strom-cli"),
		kgo.DialTimeout(5 * time.Second),
	}
	if o.commandConfig != "" {
		sec, err := commandConfigOpts(o.commandConfig)
		if err != nil {
			return nil, nil, err
		}
		base = append(base, sec...)
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	adm := kadm.NewClient(cl)
	if o.timeout > 0 {
		adm.SetTimeoutMillis(int32(min(o.timeout.Milliseconds(), 1<<31-1)))
	}
	return cl, adm, nil
}

// admin connects for one administrative command: a kadm client, and a
// context that bounds the command's requests by --timeout. The caller calls
// release when finished; it cancels the context, then closes the client.
func (o *common) admin(ctx context.Context) (*kadm.Client, context.Context, func(), error) {
	cl, adm, err := o.client(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	rctx, cancel := o.reqCtx(ctx)
	return adm, rctx, func() {
		cancel()
		cl.Close()
	}, nil
}

// wrap explains connection-level failures of an operation (deadline, refused)
// in terms of the configured brokers.
func (o *common) wrap(err error) error { return explainConn(err, o.seeds(), o) }

// stringList is a repeatable flag (--config a=b --config c=d).
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// writeJSON writes v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
